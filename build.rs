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
        if std::env::var("PROFILE").as_deref() == Ok("release") {
            order_hot_text();
        }
    }
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=link/hot-text.ld");
}

/// Passes the linker a copy of `link/hot-text.ld` kept in `OUT_DIR`, not the checkout's own
/// file. Cargo reuses this script's output from a run in another checkout of the same
/// workspace when they share a target directory (its fingerprint does not hold the
/// checkout's path, and the file's modification time is older than that run): a path into
/// that checkout broke every release link once it was deleted, while `OUT_DIR` lives as
/// long as the output that names it. The copy is made at run time, from the directory this
/// run was given, not from one compiled into the script. With a shared target directory it
/// is of the checkout that last ran this script: another checkout's script, if they differ,
/// only orders the code less well. Written afresh, not with `fs::copy`, which would carry a
/// read-only source's mode over to the copy and then fail to overwrite it.
fn order_hot_text() {
    let (Some(manifest_dir), Some(out_dir)) = (
        std::env::var_os("CARGO_MANIFEST_DIR"),
        std::env::var_os("OUT_DIR"),
    ) else {
        println!("cargo::warning=CARGO_MANIFEST_DIR or OUT_DIR is unset: the code is not ordered");
        return;
    };
    let script = std::path::Path::new(&manifest_dir).join("link/hot-text.ld");
    let copy = std::path::Path::new(&out_dir).join("hot-text.ld");
    let _ = std::fs::remove_file(&copy);
    match std::fs::read(&script).and_then(|text| std::fs::write(&copy, text)) {
        // Joined to its path, not `-Wl,-T,path`, which splits a path at its commas.
        Ok(_) => println!("cargo::rustc-link-arg-bins=-T{}", copy.display()),
        // Linked without it, so that `make hot-text` can make it again.
        Err(e) => println!(
            "cargo::warning=cannot copy {}: {e}: the code is not ordered (make hot-text)",
            script.display()
        ),
    }
}
