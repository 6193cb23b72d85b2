//! The function's hot-text linker script, `link/hot-text.ld` (`make hot-text`):
//! the functions a cold start and a few lifecycles of events run, named so that
//! the linker places them together at the front of the code.
//!
//! Why: the kernel maps an executable's code a run at a time around each page
//! first touched (64 KiB, or a whole large folio of the page cache, where the
//! file system makes them), and the linker scatters the code one event runs
//! across the whole binary. Packed together, far fewer of those runs are
//! mapped: a smaller resident set and fewer page faults (docs/performance.md).
//!
//! How: the release function, with its symbols, runs under valgrind's
//! callgrind against the stand-in, through a cold start and three Create,
//! Update, Delete cycles; every function callgrind saw in the executable
//! becomes a pattern on its code section, roughly in the order first run
//! (callgrind dumps every [`DUMP_EVERY_BB`] basic blocks, and sorts each dump
//! by address, not time). The hashes
//! that Rust mangles into symbols change with a crate's version, its build and
//! its target, so they become wildcards: the script made on this x86 machine
//! also orders the arm64 build. A function the script does not name is not
//! lost, only placed with the rest of the code: a stale script costs memory,
//! never correctness.

use std::path::{Path, PathBuf};

use crate::bench::{event, send};
use crate::demo::function::{Function, Logs};
use crate::ids::IdGen;
use crate::Standin;

/// Code that the profile cannot see but a deployed function runs, placed
/// right after what the profile found: SHA-256 for SigV4 (valgrind's CPU lacks
/// the SHA extensions this machine's code uses, and arm64 has its own) and
/// memchr's per-CPU search loops.
const ALSO_HOT: [&str; 2] = ["_ZN4sha26sha256*", "*6memchr4arch*"];

/// TLS, which a deployed function runs at its first request to EKS and to S3,
/// but the stand-in's plain HTTP never needs, so the profile cannot place it:
/// grouped in a section of its own after `.text`, so that it is compact where
/// it runs, and not mapped with the hot code by a run over plain HTTP (the
/// bench's), whose figures would then not be the function's.
const TLS: [&str; 3] = ["*rustls*", "*6webpki*", "*4ring*"];

/// How many basic blocks callgrind runs between dumps: its output is written
/// only at exit or a dump, and the stand-in ends the process with SIGKILL.
pub const DUMP_EVERY_BB: u32 = 30_000;

/// Fewer functions than this means the profile did not see the executable
/// (a cold start alone runs thousands).
const TOO_FEW: usize = 500;

/// Lifecycles of Create, Update and Delete, the first begun by the cold start.
const CYCLES: usize = 3;

/// Runs `function` (a release build with symbols) under callgrind through a
/// cold start and three lifecycles, writing callgrind's output to `dir`,
/// and returns the functions it ran, roughly in the order first run.
pub async fn profile(function: &Path, dir: &Path) -> Result<Vec<String>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let out = dir.join("callgrind.out");
    let out_flag = format!("--callgrind-out-file={}", out.display());
    let dump_flag = format!("--dump-every-bb={DUMP_EVERY_BB}");
    let wrapper = [
        "valgrind",
        "--tool=callgrind",
        "--demangle=no",
        "--compress-strings=no",
        dump_flag.as_str(),
        out_flag.as_str(),
    ];
    let standin = Standin::start()
        .await
        .map_err(|e| format!("cannot start the stand-in: {e}"))?;
    let ids = IdGen::new();
    // Queued before the start, as for a cold start in Lambda.
    let first = event(&standin, &ids, "Create", None);
    let running = Function::spawn_under(&wrapper, function, standin.function_env(), Logs::Discard)
        .map_err(|e| format!("cannot start valgrind: {e} (is it installed?)"))?;
    let events = async {
        let mut created = send(&standin, first).await?.physical_id;
        for cycle in 0..CYCLES {
            if cycle > 0 {
                created = send(&standin, event(&standin, &ids, "Create", None))
                    .await?
                    .physical_id;
            }
            let update = event(&standin, &ids, "Update", Some(&created));
            let updated = send(&standin, update).await?.physical_id;
            send(&standin, event(&standin, &ids, "Delete", Some(&updated))).await?;
        }
        Ok::<(), String>(())
    };
    let ran = events.await;
    running.stop().await;
    ran?;
    let mut functions = Vec::new();
    for file in dumps(dir)? {
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        functions.extend(executed_functions(&text));
    }
    if functions.len() < TOO_FEW {
        return Err(format!(
            "callgrind saw only {} functions run in {}: not a profile to order it by",
            functions.len(),
            function.display()
        ));
    }
    Ok(functions)
}

/// Callgrind's dumps in `dir` (`callgrind.out.1`, `.2`, ...), in the order written.
fn dumps(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut numbered = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(n) = name
            .strip_prefix("callgrind.out.")
            .and_then(|n| n.parse::<u32>().ok())
        {
            numbered.push((n, entry.path()));
        }
    }
    if numbered.is_empty() {
        return Err(format!("callgrind wrote no dumps to {}", dir.display()));
    }
    numbered.sort();
    Ok(numbered.into_iter().map(|(_, path)| path).collect())
}

/// The functions one callgrind output (`--compress-strings=no`) shows run in
/// the executable, not in a shared library (`ob=`, by its file name), in
/// order and without callgrind's recursion marks (`'2`) or the names it gives
/// code without a symbol. Only names a linker script can take as they are
/// (mangled symbols: letters, digits, `_`, `.`, `$`) are kept.
pub fn executed_functions(callgrind: &str) -> Vec<String> {
    let mut in_library = false;
    let mut functions = Vec::new();
    for line in callgrind.lines() {
        if let Some(object) = line.strip_prefix("ob=") {
            let file = object.rsplit('/').next().unwrap_or(object);
            in_library = file.contains(".so");
        } else if let Some(name) = line.strip_prefix("fn=") {
            let name = name.split('\'').next().unwrap_or(name);
            let is_symbol = !name.is_empty()
                && !name.starts_with("0x")
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$'));
            if !in_library && is_symbol {
                functions.push(name.to_string());
            }
        }
    }
    functions
}

/// A section-name pattern for `symbol` that still matches it when its hashes
/// differ: a legacy symbol's `17h<16 hex digits>E`, a v0 symbol's crate
/// disambiguators (`Cs<base-62>_`) and back-references (`B<base-62>_`, which
/// are offsets, so they move when a disambiguator before them is shorter),
/// and the numbered suffixes LLVM gives the copies it makes (`.llvm.1234`,
/// `.12`) become `*`.
pub fn pattern(symbol: &str) -> String {
    if symbol.starts_with("_ZN") {
        if let Some(at) = legacy_hash(symbol) {
            return format!("{}17h*E{}", &symbol[..at], wild_suffix(&symbol[at + 20..]));
        }
        symbol.to_string()
    } else if let Some(body) = symbol.strip_prefix("_R") {
        let (body, suffix) = body.split_at(body.find('.').unwrap_or(body.len()));
        let body = wild_runs(&wild_runs(body, "Cs", 1), "B", 0);
        let mut out = format!("_R{body}");
        out.push_str(wild_suffix(suffix));
        out
    } else {
        let (name, suffix) = symbol.split_at(symbol.find('.').unwrap_or(symbol.len()));
        format!("{name}{}", wild_suffix(suffix))
    }
}

/// `text` with each `<tag><at least min base-62 digits>_` made `<tag>*_`.
fn wild_runs(text: &str, tag: &str, min: usize) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(tag) {
        let after = &rest[at + tag.len()..];
        let digits = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        if digits >= min && after[digits..].starts_with('_') {
            out.push_str(&rest[..at]);
            out.push_str(tag);
            out.push_str("*_");
            rest = &after[digits + 1..];
        } else {
            out.push_str(&rest[..at + tag.len()]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Where a legacy symbol's hash starts: the last `17h` followed by 16 hex
/// digits and `E`.
fn legacy_hash(symbol: &str) -> Option<usize> {
    symbol.rmatch_indices("17h").map(|(at, _)| at).find(|&at| {
        let hash = symbol.as_bytes().get(at + 3..at + 20);
        hash.is_some_and(|h| h[..16].iter().all(u8::is_ascii_hexdigit) && h[16] == b'E')
    })
}

fn wild_suffix(suffix: &str) -> &'static str {
    if suffix.is_empty() {
        ""
    } else {
        "*"
    }
}

/// The linker script: an output section `.text.hot`, inserted before
/// `.text`, holding the sections of `functions` (by [`pattern`], each once, in
/// order), then SHA-256 and memchr, which the profile misses; and `.text.tls`,
/// after `.text`, holding TLS. LLVM puts a function it deems cold in
/// `.text.unlikely.<name>`, so each pattern names both. `.text.hot` starts
/// with the C runtime's start-up code (`_start` in `crt1.o`, `frame_dummy` in
/// `crtbegin.o`), which every start runs: in plain `.text` sections, it would
/// otherwise sit after all the hot code and have a run of its own mapped.
pub fn linker_script(functions: &[String], made_from: &str) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut section = |name: &str, patterns: &mut dyn Iterator<Item = String>, first: &str| {
        let mut text = format!("SECTIONS {{\n  {name} : {{\n{first}");
        for p in patterns {
            if seen.insert(p.clone()) {
                text.push_str(&format!("    *(.text.{p} .text.unlikely.{p})\n"));
            }
        }
        text + "  }\n"
    };
    let hot = section(
        ".text.hot",
        &mut functions
            .iter()
            .map(|f| pattern(f))
            .chain(ALSO_HOT.iter().map(|p| p.to_string())),
        "    *crt1.o(.text) *crtbegin*.o(.text)\n",
    );
    let tls = section(".text.tls", &mut TLS.iter().map(|p| p.to_string()), "");
    format!(
        "/* The function's hot text: the functions a cold start and a lifecycle of events run,\n   \
         placed together at the front of the code so that fewer runs of it are mapped; and TLS,\n   \
         which the profile (plain HTTP) cannot see, grouped after the rest.\n   \
         Made by `make hot-text` ({}); see standin/src/hot_text.rs. */\n\
         {hot}}} INSERT BEFORE .text;\n{tls}}} INSERT AFTER .text;\n",
        // A label must not end the comment.
        made_from.replace("*/", "* /")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_executables_functions_in_order() {
        let out = "\
ob=/usr/lib/x86_64-linux-gnu/libc.so.6
fn=memcpy
0x10 1
ob=/work/x.solutions/target/release/function
fn=main
0x20 1
cob=/usr/lib/x86_64-linux-gnu/libc.so.6
cfn=malloc
calls=1 0x30
0x21 4
fn=_ZN3foo3bar17h0123456789abcdefE'2
fn=weird\"name,{x}
fn=0x0000000000401000
fn=(below main)
ob=???
fn=_RNvCs1a2B_3std4exit
ob=/usr/lib/x86_64-linux-gnu/libm.so.6
fn=floorf
";
        assert_eq!(
            executed_functions(out),
            [
                "main",
                "_ZN3foo3bar17h0123456789abcdefE",
                "_RNvCs1a2B_3std4exit"
            ]
        );
    }

    #[test]
    fn patterns_leave_out_the_hashes() {
        assert_eq!(
            pattern("_ZN5tokio7runtime4task3raw4poll17h61631861899c0ab9E"),
            "_ZN5tokio7runtime4task3raw4poll17h*E"
        );
        assert_eq!(
            pattern("_ZN3foo3bar17h0123456789abcdefE.llvm.884422"),
            "_ZN3foo3bar17h*E*"
        );
        // A "17h" that is part of a name, not a hash, stays.
        assert_eq!(pattern("_ZN3foo3x17h3barE"), "_ZN3foo3x17h3barE");
        assert_eq!(
            pattern("_RNvNtNtCsjrHSEGnQ3l9_3std3sys4args12init_wrapper"),
            "_RNvNtNtCs*_3std3sys4args12init_wrapper"
        );
        assert_eq!(
            pattern("_RINvMs0_NtCsgEmfK2I1SDS_4core4cellINtCs6d7Go_5alloc3VecE.3132"),
            "_RINvMs0_NtCs*_4core4cellINtCs*_5alloc3VecE*"
        );
        // A back-reference is an offset: it moves when a disambiguator before it is shorter.
        assert_eq!(
            pattern("_RNvXs_NtCsjrHSEGnQ3l9_3std4timeNtB4_7InstantNtNtBN_4time8Duration"),
            "_RNvXs_NtCs*_3std4timeNtB*_7InstantNtNtB*_4time8Duration"
        );
        assert_eq!(
            pattern("ring_core_0_17_14__x25519_sc_reduce"),
            "ring_core_0_17_14__x25519_sc_reduce"
        );
        assert_eq!(pattern("helper.12"), "helper*");
    }

    #[test]
    fn the_script_names_each_pattern_once_then_the_extras() {
        let functions = [
            "main".to_string(),
            "_ZN3foo3bar17h0123456789abcdefE".to_string(),
            "_ZN3foo3bar17hfedcba9876543210E".to_string(),
        ];
        let script = linker_script(&functions, "test");
        let (hot, tls) = script.split_once("INSERT BEFORE .text;").unwrap();
        let lines = |text: &str| -> Vec<String> {
            text.lines()
                .filter(|l| l.starts_with("    *"))
                .map(str::to_string)
                .collect()
        };
        let hot = lines(hot);
        assert_eq!(hot[0], "    *crt1.o(.text) *crtbegin*.o(.text)");
        assert_eq!(hot[1], "    *(.text.main .text.unlikely.main)");
        assert_eq!(
            hot[2],
            "    *(.text._ZN3foo3bar17h*E .text.unlikely._ZN3foo3bar17h*E)"
        );
        assert_eq!(hot.len(), 3 + ALSO_HOT.len());
        assert!(hot[3].contains(ALSO_HOT[0]));
        assert!(script.contains("  .text.hot : {\n"));
        let tls = lines(tls);
        assert_eq!(tls.len(), TLS.len());
        assert!(tls[0].contains(TLS[0]));
        assert!(script.contains("  .text.tls : {\n"));
        assert!(script.trim_end().ends_with("} INSERT AFTER .text;"));
        // A label cannot end the script's comment early.
        let labelled = linker_script(&functions, "v1 */ SECTIONS");
        assert!(!labelled.contains("v1 */"), "{labelled}");
    }
}
