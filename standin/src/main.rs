//! `cfn-standin`: runs the local stand-in for EKS, S3 and the Lambda Runtime
//! API by hand (`serve`), the lifecycle demo behind `make run` (`demo`), or
//! the load test behind `make soak` (`soak`).

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use standin::demo::{self, DemoOptions};
use standin::soak::{self, SoakOptions};
use standin::Standin;

const USAGE: &str = "\
usage:
  cfn-standin serve [--port N] [--tls]
      Serve the stand-in on 127.0.0.1 (port N, default: any free port) and print
      the environment a Lambda binary needs to use it, and how to send it an event
      and read the response it uploads. Runs until Ctrl-C. Response URLs name a
      second port of its own, as S3 is a host apart from EKS. With --tls, EKS (at
      localhost) and the response bucket (at 127.0.0.1) are reached over HTTPS, the
      Runtime API stays plain HTTP, as Lambda's is, and the environment names the
      certificate to trust.
  cfn-standin demo --lambda PATH --events DIR
      Run the Lambda binary at PATH against the stand-in through the events
      DIR/create.json, DIR/update.json and DIR/delete.json, and print each step.
      Exits 1 unless every step succeeded and no association is left.
  cfn-standin soak --lambda PATH [--instances N] [--stacks M] [--fault-rate F] [--log FILE]
      Run N processes of the Lambda binary at PATH (default 200) through M full stack
      lifecycles (default 1000), with a share F of EKS calls and response PUTs faulted
      (default 0.2); the functions log to FILE (default: nowhere). Prints a report.
      Exits 1 unless every event was answered once and nothing is left.";

/// A parsed command line.
#[derive(Debug, PartialEq)]
enum Command {
    Serve { port: u16, tls: bool },
    Demo(DemoOptions),
    Soak(SoakOptions),
    Help,
}

fn parse(args: &[String]) -> Result<Command, String> {
    let (command, rest) = match args.split_first() {
        None => return Ok(Command::Help),
        Some((command, rest)) => (command.as_str(), rest),
    };
    let mut port = 0u16;
    let mut tls = false;
    let mut lambda = None;
    let mut events = None;
    let mut soak = SoakOptions {
        lambda: PathBuf::new(),
        instances: 200,
        stacks: 1000,
        fault_rate: 0.2,
        log: None,
    };
    let mut rest = rest.iter();
    while let Some(flag) = rest.next() {
        let mut value = || {
            rest.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match (command, flag.as_str()) {
            (_, "-h" | "--help") => return Ok(Command::Help),
            ("serve", "--port") => {
                let raw = value()?;
                port = raw
                    .parse()
                    .map_err(|_| format!("--port: not a port number: {raw}"))?;
            }
            ("serve", "--tls") => tls = true,
            ("demo" | "soak", "--lambda") => lambda = Some(PathBuf::from(value()?)),
            ("demo", "--events") => events = Some(PathBuf::from(value()?)),
            ("soak", "--instances") => soak.instances = number(flag, &value()?)?,
            ("soak", "--stacks") => soak.stacks = number(flag, &value()?)?,
            ("soak", "--fault-rate") => soak.fault_rate = number(flag, &value()?)?,
            ("soak", "--log") => soak.log = Some(PathBuf::from(value()?)),
            _ => return Err(format!("unexpected argument for {command}: {flag}")),
        }
    }
    match command {
        "serve" => Ok(Command::Serve { port, tls }),
        "demo" => Ok(Command::Demo(DemoOptions {
            lambda: lambda.ok_or("demo needs --lambda PATH")?,
            events: events.ok_or("demo needs --events DIR")?,
        })),
        "soak" => Ok(Command::Soak(SoakOptions {
            lambda: lambda.ok_or("soak needs --lambda PATH")?,
            ..soak
        })),
        "help" | "-h" | "--help" => Ok(Command::Help),
        other => Err(format!("unknown command: {other}")),
    }
}

fn number<T: std::str::FromStr>(flag: &str, raw: &str) -> Result<T, String> {
    raw.parse()
        .map_err(|_| format!("{flag}: not a number: {raw}"))
}

/// Runs the soak and prints its report; true if it was clean.
async fn run_soak(options: &SoakOptions) -> Result<bool, String> {
    println!(
        "Starting {} instances of {} for {} stacks, {}% of EKS calls and response PUTs faulted...",
        options.instances,
        options.lambda.display(),
        options.stacks,
        options.fault_rate * 100.0
    );
    let report = soak::run(options).await?;
    println!("{report}");
    Ok(report.is_clean())
}

/// Single quotes keep `$LATEST` and the like from being expanded by the shell.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

async fn serve(port: u16, tls: bool) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let started = if tls {
        Standin::start_tls_on(addr).await
    } else {
        Standin::start_on(addr).await
    };
    let standin = started.map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    println!(
        "# cfn-standin serving EKS, the response bucket and the Lambda Runtime API at {} \
         (and every route at {} too, the port its response URLs name: the bucket's own, as \
         S3 is a host apart from EKS)",
        standin.plain_url(),
        standin.bucket_addr()
    );
    if tls {
        println!(
            "# EKS and the response bucket over HTTPS, with the certificate in {}",
            standin::TLS_CERTIFICATE_FILE
        );
    }
    println!("# Environment for the Lambda binary:");
    for (name, value) in standin.function_env() {
        println!("export {name}={}", shell_quote(&value));
    }
    println!(
        "# Send it an event: aws lambda invoke --endpoint-url {} --function-name {} --payload file://event.json out.json",
        standin.plain_url(),
        Standin::FUNCTION_NAME
    );
    // Signed, as CloudFormation's are: the bucket refuses a PUT without the query, as S3 does.
    let response_url = standin.response_url("my-response");
    println!("# A response URL for an event (presigned, for two hours; any key under /bucket/):");
    println!("export STANDIN_RESPONSE_URL={}", shell_quote(&response_url));
    let trust = if tls {
        format!("--cacert {} ", shell_quote(standin::TLS_CERTIFICATE_FILE))
    } else {
        String::new()
    };
    println!("# Read the response uploaded there: curl {trust}'{response_url}'");
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| format!("cannot wait for Ctrl-C: {e}"))?;
    println!(
        "# {} EKS calls served; stopping.",
        standin.eks_calls().len()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match parse(&args) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            Ok(true)
        }
        Ok(Command::Serve { port, tls }) => serve(port, tls).await.map(|()| true),
        Ok(Command::Demo(options)) => demo::run(&options).await,
        Ok(Command::Soak(options)) => run_soak(&options).await,
        Err(problem) => {
            eprintln!("cfn-standin: {problem}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(problem) => {
            eprintln!("cfn-standin: {problem}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_every_command() {
        assert_eq!(
            parse(&args("serve")),
            Ok(Command::Serve {
                port: 0,
                tls: false
            })
        );
        assert_eq!(
            parse(&args("serve --port 9000 --tls")),
            Ok(Command::Serve {
                port: 9000,
                tls: true
            })
        );
        assert_eq!(
            parse(&args("demo --events ev --lambda bin/l")),
            Ok(Command::Demo(DemoOptions {
                lambda: "bin/l".into(),
                events: "ev".into()
            }))
        );
        assert_eq!(
            parse(&args("soak --lambda l --stacks 5 --fault-rate 0.5")),
            Ok(Command::Soak(SoakOptions {
                lambda: "l".into(),
                instances: 200,
                stacks: 5,
                fault_rate: 0.5,
                log: None,
            }))
        );
        assert_eq!(parse(&args("")), Ok(Command::Help));
        assert_eq!(parse(&args("demo --help")), Ok(Command::Help));
    }

    #[test]
    fn rejects_bad_command_lines() {
        for bad in [
            "serve --port",
            "serve --port x",
            "serve --tls yes",
            "serve --port 70000",
            "demo --lambda x",
            "demo --events e",
            "demo --port 1",
            "soak --stacks 3",
            "soak --lambda l --instances many",
            "frobnicate",
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn quoting_survives_the_shell() {
        assert_eq!(shell_quote("$LATEST"), "'$LATEST'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
