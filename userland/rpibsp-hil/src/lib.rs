//! Hardware-in-the-loop runner for the Raspberry Pi BSP, used from the laptop.
//!
//! It drives a board through its serial console — a real serial device, a TCP console (raw or
//! RFC 2217 telnet, as ser2net and labgrid serve it), or the emulated board that it starts
//! itself in QEMU — waits for the boot and the login prompt, logs in, quiets the kernel
//! console, copies files to the board over the console if asked ([`push`]), runs
//! `rpibsp-verify --format tap` and further commands framed with unique markers (so exit
//! statuses survive kernel messages on the line), passes on what a person must see while they
//! run ([`LiveOutput`]), and reports the results as a summary, JUnit XML and raw console logs.

pub mod console;
pub mod http;
pub mod protocol;
pub mod push;
pub mod qemu;
pub mod rfc2217;
pub mod runner;
pub mod session;

pub use console::TcpMode;
pub use push::PushSpec;
pub use runner::{
    asks_a_person, run, run_observed, HttpPush, LiveOutput, Observer, RunConfig, RunReport, Target,
    Verdict,
};
pub use session::{Login, Timeouts};
