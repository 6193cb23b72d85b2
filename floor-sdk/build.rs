//! Links this floor at a fixed address, as the function and the floor are (the function's
//! build.rs says why). The function's hot-text script is left out: it orders code for memory,
//! not time, and would have to name this binary's functions.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo::rustc-link-arg-bins=-no-pie");
    }
    println!("cargo::rerun-if-changed=build.rs");
}
