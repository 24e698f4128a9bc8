//! The console protocol and the QEMU command line, without a board.

use std::path::{Path, PathBuf};

use rpibsp_hil::protocol::{
    frame, parse_framed, printable, ready_line, shell_quote, split_kernel_lines,
};
use rpibsp_hil::qemu::{self, Machine, QemuSpec, Rootfs};

#[test]
fn framing_hides_markers_from_the_echo() {
    let line = frame("uname -a", "abc", 3);
    assert_eq!(
        line,
        "echo __RPIBSP_''BEGIN_abc_3__; eval 'uname -a' </dev/null; echo __RPIBSP_''END_abc_3_$?__"
    );
    assert!(!line.contains("__RPIBSP_BEGIN_abc_3__"));
    assert!(!ready_line("n").contains("__RPIBSP_READY_n__"));
    assert_eq!(shell_quote("it's"), r"'it'\''s'");
}

#[test]
fn parse_finds_output_and_status_past_the_echo() {
    let mut buf = Vec::new();
    buf.extend_from_slice(frame("x", "n1", 1).as_bytes());
    buf.extend_from_slice(b"\r\n__RPIBSP_BEGIN_n1_1__\r\nhello\r\nworld\r\n__RPIBSP_END_n1_1_");
    assert_eq!(
        parse_framed(&buf, "n1", 1, 0),
        None,
        "status not complete yet"
    );
    buf.extend_from_slice(b"42");
    assert_eq!(
        parse_framed(&buf, "n1", 1, 0),
        None,
        "trailing __ not there yet"
    );
    buf.extend_from_slice(b"__\r\n~ # ");
    let f = parse_framed(&buf, "n1", 1, 0).unwrap();
    assert_eq!(f.status, 42);
    assert_eq!(f.raw, b"hello\r\nworld\r\n");
    assert_eq!(&buf[f.end..], b"\r\n~ # ");
    // Another command number or nonce does not match.
    assert_eq!(parse_framed(&buf, "n1", 2, 0), None);
    assert_eq!(parse_framed(&buf, "n2", 1, 0), None);
}

#[test]
fn kernel_lines_are_split_off_even_mid_line() {
    let raw = b"ok 1 - a\r\n[   12.345678] usb 1-1: new device\r\nok 2\r\n- b[  13.000001] mid-line message\r\n c\r\n";
    let (clean, kernel) = split_kernel_lines(raw);
    assert_eq!(clean, "ok 1 - a\nok 2\n- b c\n");
    assert_eq!(
        kernel,
        vec![
            "[   12.345678] usb 1-1: new device",
            "[  13.000001] mid-line message"
        ]
    );
    let (clean, kernel) = split_kernel_lines(b"array[1.5] is not a stamp\n");
    assert_eq!(clean, "array[1.5] is not a stamp\n");
    assert!(kernel.is_empty());
}

#[test]
fn printable_strips_escapes_and_controls() {
    assert_eq!(
        printable("\u{1b}[0;31mred\u{1b}[0m\u{7}\tok\n"),
        "red\tok\n"
    );
}

fn spec(rootfs: Rootfs) -> QemuSpec {
    QemuSpec {
        program: "qemu-system-aarch64".into(),
        machine: Machine::Raspi3b,
        kernel: "Image".into(),
        dtb: "board.dtb".into(),
        rootfs,
        append: None,
        sd_writable: false,
        extra: vec!["-d".into(), "guest_errors".into()],
    }
}

#[test]
fn qemu_command_line_for_initrd_and_sd() {
    let sock = Path::new("/tmp/x/console.sock");
    let a = qemu::args(
        &spec(Rootfs::Initrd("initramfs.cpio.gz".into())),
        sock,
        None,
    );
    let joined = a.join(" ");
    assert!(
        joined
            .starts_with("-M raspi3b -kernel Image -dtb board.dtb -append console=ttyAMA0,115200"),
        "{joined}"
    );
    assert!(joined.contains("-nographic -monitor none -no-reboot"));
    assert!(joined.contains("-chardev socket,id=console,path=/tmp/x/console.sock,server=on,wait=on -serial chardev:console"));
    assert!(joined.contains("-initrd initramfs.cpio.gz"));
    assert!(joined.ends_with("-d guest_errors"));
    assert!(!joined.contains("root="));

    let mut s = spec(Rootfs::Sd("sd.img".into()));
    s.machine = Machine::Raspi4b;
    let a = qemu::args(&s, sock, Some(Path::new("/tmp/x/sd-resized.img")));
    let joined = a.join(" ");
    assert!(joined.contains("-M raspi4b"));
    assert!(joined.contains("root=/dev/mmcblk0p2 rootwait rw"));
    // raspi4b: the card on the emmc2 controller's bus, not QEMU's default SD bus.
    assert!(
        joined.contains(
            "-drive file=/tmp/x/sd-resized.img,if=none,id=sdcard,format=raw,snapshot=on \
             -device sd-card,drive=sdcard,bus=/generic-sdhci/sd-bus"
        ),
        "{joined}"
    );
    assert!(!joined.contains("if=sd"), "{joined}");
    s.sd_writable = true;
    s.append = Some("console=ttyS1 quiet".into());
    let joined = qemu::args(&s, sock, None).join(" ");
    assert!(joined.contains("-append console=ttyS1 quiet -nographic"));
    assert!(
        joined.contains("-drive file=sd.img,if=none,id=sdcard,format=raw -device"),
        "{joined}"
    );
    // raspi3b: QEMU's SD bus is the card slot (sdhost/sdhci).
    s.machine = Machine::Raspi3b;
    let joined = qemu::args(&s, sock, None).join(" ");
    assert!(
        joined.contains("-drive file=sd.img,if=sd,format=raw -"),
        "{joined}"
    );
    assert!(!joined.contains("sd-card"), "{joined}");
}

#[test]
fn sd_images_are_resized_through_a_copy_only() {
    let dir = tempfile::tempdir().unwrap();
    let img: PathBuf = dir.path().join("sd.img");
    std::fs::write(&img, vec![7u8; 3000]).unwrap();
    let err = qemu::sd_image(&img, dir.path(), false)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("power-of-two") && err.contains("4096"),
        "{err}"
    );
    let (copy, note) = qemu::sd_image(&img, dir.path(), true).unwrap();
    assert_ne!(copy, img);
    assert_eq!(std::fs::metadata(&copy).unwrap().len(), 4096);
    assert_eq!(
        std::fs::metadata(&img).unwrap().len(),
        3000,
        "original untouched"
    );
    assert!(note.unwrap().contains("4096"));
    assert_eq!(&std::fs::read(&copy).unwrap()[..3000], &vec![7u8; 3000][..]);
    std::fs::write(&img, vec![0u8; 4096]).unwrap();
    let (same, note) = qemu::sd_image(&img, dir.path(), true).unwrap();
    assert_eq!(same, img);
    assert!(note.is_none());
}

#[test]
fn qemu_start_reports_missing_files_and_a_dying_qemu() {
    let dir = tempfile::tempdir().unwrap();
    let err = qemu::Qemu::start(&spec(Rootfs::None), dir.path(), true)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("kernel Image does not exist"), "{err}");
    // `false` stands in for a QEMU that exits at once.
    std::fs::write(dir.path().join("Image"), b"k").unwrap();
    std::fs::write(dir.path().join("board.dtb"), b"d").unwrap();
    let mut s = spec(Rootfs::None);
    s.program = "false".into();
    s.kernel = dir.path().join("Image");
    s.dtb = dir.path().join("board.dtb");
    let err = qemu::Qemu::start(&s, dir.path(), true)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("QEMU exited with exit status: 1"), "{err}");
}

#[test]
fn prompts_are_recognised_but_not_kernel_lines_or_login() {
    use rpibsp_hil::protocol::looks_like_prompt;
    assert!(looks_like_prompt(b"\r\nrpibsp# ", 0));
    assert!(looks_like_prompt(b"\r\nrpibsp# \x1b[6n", 0)); // busybox's cursor query
    assert!(looks_like_prompt(b"foo\r\n~ $ ", 0));
    assert!(looks_like_prompt(b"rpibsp#", 0));
    assert!(!looks_like_prompt(b"\r\nrpibsp login: ", 0));
    assert!(!looks_like_prompt(b"[    2.759243]     # ", 0));
    assert!(!looks_like_prompt(b"rpibsp# \r\n", 0));
    assert!(!looks_like_prompt(b"", 0));
    assert!(!looks_like_prompt(b"rpibsp# ls\r\nfile", 0));
    // Only what follows `from` counts.
    assert!(!looks_like_prompt(b"rpibsp# ", 8));
    assert!(!looks_like_prompt(b"rpibsp# ", 99));
}

#[test]
fn line_at_returns_the_whole_line() {
    use rpibsp_hil::protocol::line_at;
    let buf = b"[ 1.0] a\r\n[ 3.873110] Kernel panic - not syncing: VFS: Unable to mount root\r\n[ 3.9] x";
    assert_eq!(
        line_at(buf, "Kernel panic", 0).as_deref(),
        Some("Kernel panic - not syncing: VFS: Unable to mount root")
    );
    assert_eq!(line_at(buf, "Kernel panic", 40), None);
    assert_eq!(
        line_at(b"tail Kernel panic", "Kernel panic", 0).as_deref(),
        Some("Kernel panic")
    );
}
