//! Links the Lambda binary as a position-dependent executable on Linux (`-no-pie`).
//!
//! A position-independent executable is relocated by the dynamic loader at every start:
//! for this binary about 12,000 relocations (14,000 on arm64), a 280 KiB table read from
//! disk and 190 KiB of vtables and static pointers copied into private memory to be patched.
//! Linked at a fixed address, the linker resolves all of them once. Measured with
//! `make bench` on the same code: init 2.4–2.5 → 1.8–2.1 ms (1.18–1.20× → 1.03–1.10× the
//! floor's, which is linked alike), the allocated memory (RssAnon) 0.18 MiB less.
//! The cost is that the executable's own code loses address-space randomisation (libraries,
//! heap and stack keep theirs): a trade a memory-safe binary with no `unsafe`, in its own
//! Lambda sandbox, can make.
//!
//! Release builds also place the code a cold start and its events run together at the
//! front of the executable (`link/hot-text.ld`, made by `make hot-text`): the kernel maps
//! code a run at a time (64 KiB, or a large folio) around each page first touched, and the
//! linker otherwise scatters that code across the binary. Measured with `make bench` on the
//! same code: peak memory 6.1–6.2 → 5.5 MiB (1.45–1.50× → 1.33–1.34× the floor's); cold
//! total unchanged within its spread.
//!
//! Only the binaries get the flags: a proc-macro or a library's test harness is not linked
//! with them.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo::rustc-link-arg-bins=-no-pie");
        // Debug builds are linked as they are: no one measures them, and matching a
        // thousand patterns against their sections only slows every test build.
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("link/hot-text.ld");
        if std::env::var("PROFILE").as_deref() == Ok("release") {
            if script.is_file() {
                // Joined to its path, not `-Wl,-T,path`, which splits a path at its commas.
                println!("cargo::rustc-link-arg-bins=-T{}", script.display());
            } else {
                // Linked without it, so that `make hot-text` can make it again.
                println!(
                    "cargo::warning={} is missing: the code is not ordered (make hot-text)",
                    script.display()
                );
            }
        }
    }
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=link/hot-text.ld");
}
