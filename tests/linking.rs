//! The Lambda binary is linked at a fixed address (build.rs says why): the ELF header names
//! it an executable (`ET_EXEC`), not a position-independent one (`ET_DYN`), whose start-up
//! would relocate thousands of pointers again.

#![cfg(target_os = "linux")]

const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;

/// `e_type`, the two bytes after the 16-byte identification (little-endian on the targets
/// this is built for).
fn elf_type(path: &str) -> u16 {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF", "{path} is not an ELF file");
    u16::from_le_bytes([bytes[16], bytes[17]])
}

#[test]
fn the_function_is_linked_at_a_fixed_address() {
    let found = elf_type(env!("CARGO_BIN_EXE_cfn-eks-pod-identity"));
    assert_ne!(
        found, ET_DYN,
        "the function is a position-independent executable"
    );
    assert_eq!(found, ET_EXEC);
}
