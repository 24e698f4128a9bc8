//! Tells the tests whether ser2net (the RFC 2217 server of the end-to-end test) is installed,
//! so that test is reported as ignored, with the reason, instead of passing without running.

use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(rpibsp_hil_no_ser2net)");
    println!("cargo::rerun-if-env-changed=PATH");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/usr/local/sbin"].map(PathBuf::from));
    match dirs.iter().map(|d| d.join("ser2net")).find(|f| f.is_file()) {
        // Removing it: run again.
        Some(found) => println!("cargo::rerun-if-changed={}", found.display()),
        None => {
            // Installing it (Debian: /usr/sbin) changes the directory: run again.
            for d in ["/usr/sbin", "/usr/local/sbin"] {
                if std::path::Path::new(d).is_dir() {
                    println!("cargo::rerun-if-changed={d}");
                }
            }
            println!("cargo::rustc-cfg=rpibsp_hil_no_ser2net");
        }
    }
}
