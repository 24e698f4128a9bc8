// SPDX-License-Identifier: GPL-2.0
//! Prints the ioctl ABI of drivers/devicemodel/abi.rs in the format of `dmtest abi`, so that the
//! test suite can check that its C test program and the Rust definition agree.

#[path = "../../drivers/devicemodel/abi.rs"]
mod abi;

fn main() {
    println!("ABI_VERSION={}", abi::ABI_VERSION);
    println!("IOC_MAGIC={:#x}", abi::IOC_MAGIC);
    println!("IOC_RESET={:#x}", abi::IOC_RESET);
    println!("IOC_GET_STATUS={:#x}", abi::IOC_GET_STATUS);
    println!("IOC_GET_VALUE={:#x}", abi::IOC_GET_VALUE);
    println!("IOC_SET_VALUE={:#x}", abi::IOC_SET_VALUE);
    println!("IOC_GET_ABI_VERSION={:#x}", abi::IOC_GET_ABI_VERSION);
    println!("STATUS_SIZE={}", core::mem::size_of::<abi::Status>());
    println!(
        "STATUS_GREETING_OFFSET={}",
        core::mem::offset_of!(abi::Status, greeting)
    );
    println!("VALUE_MAX={}", abi::VALUE_MAX);
    println!("IOC_SIZE_MAX={}", abi::IOC_SIZE_MAX);
}
