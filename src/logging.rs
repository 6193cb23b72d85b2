//! Logging set-up: Lambda's log controls (`AWS_LAMBDA_LOG_LEVEL`, `AWS_LAMBDA_LOG_FORMAT=JSON`)
//! and `RUST_LOG`, like the runtime's default subscriber, with three differences:
//! - the runtime's own TRACE line that prints each raw event is never emitted, because the
//!   event's ResponseURL carries a presigned credential;
//! - JSON lines carry a timestamp, which Lambda's log-level filtering needs to take their level;
//! - `RUST_LOG` is read as `level` and `target=level` directives (tracing's `Targets`), not
//!   as the full `EnvFilter` syntax with span and field filters, whose regex engine was a
//!   tenth of the binary's code and of the memory it occupies once loaded (`make bench`).

use tracing_subscriber::filter::{filter_fn, LevelFilter, Targets};
use tracing_subscriber::prelude::*;
use tracing_subscriber::{fmt, registry};

/// The runtime module whose TRACE events contain the raw invocation payload.
const RAW_EVENT_TARGET: &str = "lambda_runtime::layers::api_response";

/// Installs the global subscriber; call once, first thing in `main`.
pub fn init() {
    let var = |name| std::env::var(name).ok();
    let levels = levels(
        var("AWS_LAMBDA_LOG_LEVEL").as_deref(),
        var("RUST_LOG").as_deref(),
    );
    let no_raw_events = filter_fn(|metadata| {
        !(metadata.target() == RAW_EVENT_TARGET && *metadata.level() == tracing::Level::TRACE)
    });
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let format = fmt::layer().with_target(false);
    let registry = registry().with(levels).with(no_raw_events);
    if json {
        // Lambda's log-level filtering takes a JSON line's level only beside a valid RFC 3339
        // timestamp, and files a line without one as INFO: with the function's log level set
        // to WARN, its warnings and errors would be dropped. (A text line is stamped by Lambda.)
        registry.with(format.json()).init();
    } else {
        registry.with(format.without_time()).init();
    }
}

/// What is logged: the level is `AWS_LAMBDA_LOG_LEVEL`'s (Lambda's log controls, so the
/// console setting wins), else a bare level in `RUST_LOG`, else INFO; `RUST_LOG`'s
/// `target=level` directives refine it per module. A directive that does not parse is
/// skipped rather than failing the start-up, as the runtime's own reading does.
pub fn levels(lambda_level: Option<&str>, rust_log: Option<&str>) -> Targets {
    let mut targets = Targets::new();
    let mut rust_log_default = None;
    let directives = rust_log.unwrap_or_default().split(',').map(str::trim);
    for directive in directives.filter(|d| !d.is_empty()) {
        let Ok(parsed) = directive.parse::<Targets>() else {
            continue;
        };
        rust_log_default = parsed.default_level().or(rust_log_default);
        for (target, level) in parsed.iter() {
            targets = targets.with_target(target, level);
        }
    }
    let default = lambda_level
        .and_then(level_named)
        .or(rust_log_default)
        .unwrap_or(LevelFilter::INFO);
    targets.with_default(default)
}

/// A level by name, case-insensitive; Lambda's FATAL, which tracing does not have, is ERROR.
/// A blank name is none (as a blank variable is unset everywhere else), where tracing's own
/// parsing would read it as ERROR.
fn level_named(name: &str) -> Option<LevelFilter> {
    match name.trim().to_ascii_lowercase().as_str() {
        "" => None,
        "fatal" => Some(LevelFilter::ERROR),
        other => other.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn info_unless_told_otherwise() {
        let none = levels(None, None);
        assert!(none.would_enable("cfn_eks_pod_identity::handler", &Level::INFO));
        assert!(!none.would_enable("cfn_eks_pod_identity::handler", &Level::DEBUG));
        let garbage = levels(Some("loud"), Some("[span{x=1}]"));
        assert_eq!(garbage.default_level(), Some(LevelFilter::INFO));
        // A blank AWS_LAMBDA_LOG_LEVEL is unset: INFO, or RUST_LOG's level.
        assert_eq!(
            levels(Some(""), None).default_level(),
            Some(LevelFilter::INFO)
        );
        assert_eq!(
            levels(Some("  "), Some("debug")).default_level(),
            Some(LevelFilter::DEBUG)
        );
    }

    #[test]
    fn lambdas_level_wins_over_a_bare_rust_log_level() {
        let both = levels(Some("WARN"), Some("debug"));
        assert_eq!(both.default_level(), Some(LevelFilter::WARN));
        assert_eq!(
            levels(None, Some("debug")).default_level(),
            Some(LevelFilter::DEBUG)
        );
        assert_eq!(
            levels(Some("FATAL"), None).default_level(),
            Some(LevelFilter::ERROR)
        );
        assert_eq!(
            levels(Some("trace"), None).default_level(),
            Some(LevelFilter::TRACE)
        );
    }

    #[test]
    fn rust_log_targets_refine_the_level_and_bad_directives_are_skipped() {
        let filter = levels(
            Some("INFO"),
            Some("aws_smithy_runtime=trace, not a directive,cfn_eks_pod_identity::eks=warn"),
        );
        assert!(filter.would_enable("aws_smithy_runtime::client::orchestrator", &Level::TRACE));
        assert!(!filter.would_enable("cfn_eks_pod_identity::eks", &Level::INFO));
        assert!(filter.would_enable("cfn_eks_pod_identity::handler", &Level::INFO));
        assert!(!filter.would_enable("hyper", &Level::DEBUG));
    }
}
