//! `cfn-bench`, behind `make bench`: measures the function next to the floor
//! (`bench-floor`) against the local stand-in, prints the table and writes it
//! as JSON for comparison across commits. See [`standin::bench`].

#![forbid(unsafe_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use standin::bench::{self, BenchOptions};
use standin::hot_text;

const USAGE: &str = "\
usage:
  cfn-bench --function PATH --floor PATH --bootstrap PATH [--floor-bootstrap PATH]
            [--out FILE] [--cold-starts N] [--cycles N] [--label TEXT] [--tls]
      Run the function at PATH and the floor, both built for this machine, through
      N fresh starts each (default 100) and N warm Create, Update, Delete cycles each
      (default 1000: 3,000 events, long enough for the leak check to tell a leak from
      allocator noise; peak memory is read after the first 1,000), and read the arm64
      bootstraps' sizes.
      Prints the table and writes it as JSON to FILE (default target/bench/report.json),
      labelled TEXT (e.g. the commit). With --tls, both reach EKS and the bucket over
      HTTPS, as deployed, rather than plain HTTP. Exits 1 only if a measurement could
      not be made.
  cfn-bench hot-text --function PATH --out FILE [--label TEXT]
      Run the function at PATH (a release build with symbols) under valgrind's callgrind
      through a cold start and three lifecycles, and write the linker script that places
      the functions it ran together (link/hot-text.ld; see `make hot-text`).";

/// The options and where the JSON goes, or `None` for help.
fn parse(args: &[String]) -> Result<Option<(BenchOptions, PathBuf)>, String> {
    let mut options = BenchOptions {
        function: PathBuf::new(),
        floor: PathBuf::new(),
        bootstrap: PathBuf::new(),
        floor_bootstrap: None,
        cold_starts: 100,
        cycles: 1000,
        label: None,
        tls: false,
    };
    let mut out = PathBuf::from("target/bench/report.json");
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        if flag == "--tls" {
            options.tls = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{flag}: not a positive number: {value}"))
        };
        match flag.as_str() {
            "--function" => options.function = value.into(),
            "--floor" => options.floor = value.into(),
            "--bootstrap" => options.bootstrap = value.into(),
            "--floor-bootstrap" => options.floor_bootstrap = Some(value.into()),
            "--out" => out = value.into(),
            "--cold-starts" => options.cold_starts = number()?,
            "--cycles" => options.cycles = number()?,
            "--label" => options.label = Some(value.clone()),
            _ => return Err(format!("unexpected argument: {flag}")),
        }
    }
    for (flag, path) in [
        ("--function", &options.function),
        ("--floor", &options.floor),
        ("--bootstrap", &options.bootstrap),
    ] {
        if path.as_os_str().is_empty() {
            return Err(format!("{flag} is required"));
        }
    }
    Ok(Some((options, out)))
}

fn write_json(path: &PathBuf, report: &bench::Report) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&report.to_json()).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

/// `hot-text`'s options: the function, where the script goes, and its label.
fn parse_hot_text(args: &[String]) -> Result<(PathBuf, PathBuf, String), String> {
    let (mut function, mut out, mut label) = (None, None, String::from("unlabelled"));
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--function" => function = Some(PathBuf::from(value)),
            "--out" => out = Some(PathBuf::from(value)),
            "--label" => label = value.clone(),
            _ => return Err(format!("unexpected argument: {flag}")),
        }
    }
    Ok((
        function.ok_or("--function is required")?,
        out.ok_or("--out is required")?,
        label,
    ))
}

async fn hot_text(args: &[String]) -> ExitCode {
    let (function, out, label) = match parse_hot_text(args) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("cfn-bench hot-text: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let dir = std::env::temp_dir().join(format!("cfn-hot-text-{}", std::process::id()));
    let profiled = hot_text::profile(&function, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    let functions = match profiled {
        Ok(functions) => functions,
        Err(message) => {
            eprintln!("cfn-bench hot-text: {message}");
            return ExitCode::FAILURE;
        }
    };
    let script = hot_text::linker_script(&functions, &label);
    if let Err(e) = std::fs::write(&out, script) {
        eprintln!("cfn-bench hot-text: {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    println!(
        "{} functions profiled; written to {}",
        functions.len(),
        out.display()
    );
    ExitCode::SUCCESS
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "hot-text") {
        return hot_text(&args[1..]).await;
    }
    let (options, out) = match parse(&args) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("cfn-bench: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let report = match bench::run(&options).await {
        Ok(report) => report,
        Err(message) => {
            eprintln!("cfn-bench: {message}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(message) = write_json(&out, &report) {
        eprintln!("cfn-bench: cannot write the report: {message}");
        return ExitCode::FAILURE;
    }
    // The report is on disk; a closed pipe (`| head`) is no reason to panic.
    let _ = writeln!(std::io::stdout(), "{report}Written to {}", out.display());
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn parses_the_paths_and_defaults() {
        let parsed = parse(&args("--function f --floor g --bootstrap b --cycles 10")).unwrap();
        let (options, out) = parsed.unwrap();
        assert_eq!(options.function, PathBuf::from("f"));
        assert_eq!(options.cycles, 10);
        assert_eq!(options.cold_starts, 100);
        assert_eq!(options.floor_bootstrap, None);
        assert_eq!(out, PathBuf::from("target/bench/report.json"));
        assert!(!options.tls, "plain HTTP unless asked");
        let (options, _) = parse(&args("--tls --function f --floor g --bootstrap b"))
            .unwrap()
            .unwrap();
        assert!(options.tls);
        assert_eq!(options.floor, PathBuf::from("g"));
        assert!(parse(&args("--help")).unwrap().is_none());
        assert!(parse(&args("--function f --floor g")).is_err());
        assert!(parse(&args("--function f --floor g --bootstrap b --cycles 0")).is_err());
        assert!(parse(&args("--function")).is_err());
    }

    #[test]
    fn hot_text_needs_the_function_and_the_script() {
        let (function, out, label) =
            parse_hot_text(&args("--function f --out link/x.ld --label abc")).unwrap();
        assert_eq!(function, PathBuf::from("f"));
        assert_eq!(out, PathBuf::from("link/x.ld"));
        assert_eq!(label, "abc");
        assert!(parse_hot_text(&args("--function f")).is_err());
        assert!(parse_hot_text(&args("--out x")).is_err());
        assert!(parse_hot_text(&args("--function f --out x --cycles 3")).is_err());
    }
}
