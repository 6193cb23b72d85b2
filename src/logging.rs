//! Logging set-up: Lambda's log controls (`AWS_LAMBDA_LOG_LEVEL`, `AWS_LAMBDA_LOG_FORMAT=JSON`,
//! else `RUST_LOG`), like the runtime's default subscriber, with one difference: the runtime's
//! own TRACE line that prints each raw event is never emitted, because the event's ResponseURL
//! carries a presigned credential.

use lambda_runtime::tracing::subscriber::filter::{filter_fn, EnvFilter, LevelFilter};
use lambda_runtime::tracing::subscriber::prelude::*;
use lambda_runtime::tracing::subscriber::{fmt, registry};
use std::str::FromStr;

/// The runtime module whose TRACE events contain the raw invocation payload.
const RAW_EVENT_TARGET: &str = "lambda_runtime::layers::api_response";

/// Installs the global subscriber; call once, first thing in `main`.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok();
    let default = level
        .as_deref()
        .and_then(|l| LevelFilter::from_str(l).ok())
        .unwrap_or(LevelFilter::INFO);
    let filter = EnvFilter::builder()
        .with_default_directive(default.into())
        .from_env_lossy();
    let no_raw_events = filter_fn(|metadata| {
        !(metadata.target() == RAW_EVENT_TARGET
            && *metadata.level() == lambda_runtime::tracing::Level::TRACE)
    });
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let format = fmt::layer().with_target(false).without_time();
    let registry = registry().with(filter).with(no_raw_events);
    if json {
        registry.with(format.json()).init();
    } else {
        registry.with(format).init();
    }
}
