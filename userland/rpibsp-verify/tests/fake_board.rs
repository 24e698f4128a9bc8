//! rpibsp-verify's checks against a fake sysfs/device-tree tree and a simulated board.

mod common;

use common::{Bugs, FakeBoard, FakeTree, Layout};
use rpibsp_verify::output::{render, Format};
use rpibsp_verify::{Group, Mode, Outcome, Report};

fn run_with(
    layout: Layout,
    bugs: Bugs,
    tweak: impl FnOnce(&mut rpibsp_verify::Options),
) -> (Report, FakeTree, FakeBoard) {
    let tree = FakeTree::new(&layout);
    let mut board = FakeBoard::new(&tree, &layout, bugs);
    let mut opts = tree.options();
    tweak(&mut opts);
    let report = rpibsp_verify::run(&opts, &mut board);
    (report, tree, board)
}

fn failures(report: &Report) -> Vec<String> {
    report
        .cases
        .iter()
        .filter_map(|c| match &c.outcome {
            Outcome::Fail(why) => Some(format!("{}: {why}", c.full_name())),
            _ => None,
        })
        .collect()
}

fn failure_containing<'a>(report: &'a Report, needle: &str) -> &'a str {
    report
        .cases
        .iter()
        .find_map(|c| match &c.outcome {
            Outcome::Fail(why) if why.contains(needle) || c.name.contains(needle) => {
                Some(why.as_str())
            }
            _ => None,
        })
        .unwrap_or_else(|| {
            panic!(
                "no failure mentioning {needle:?}; failures: {:#?}",
                failures(report)
            )
        })
}

#[test]
fn healthy_emulated_board_passes_every_check() {
    let (report, tree, board) = run_with(Layout::default(), Bugs::default(), |_| {});
    assert_eq!(report.mode, Mode::Emulated, "{}", report.mode_reason);
    assert!(failures(&report).is_empty(), "{:#?}", failures(&report));
    let counts = report.counts();
    assert_eq!(counts.skipped, 0);
    assert!(counts.passed > 40, "only {} checks ran", counts.passed);
    assert_eq!(report.exit_code(false), 0);
    for group in Group::ALL {
        assert!(
            report.cases.iter().any(|c| c.group == group.as_str()),
            "no case in group {group}"
        );
    }
    // State is put back: trigger, released buttons, value, empty buffer.
    let trigger =
        std::fs::read_to_string(tree.sys("class/leds/rpibsp:green:status/trigger")).unwrap();
    assert!(trigger.contains("[rpibsp-button]"), "{trigger}");
    let pull =
        std::fs::read_to_string(tree.sys("bus/gpio/devices/gpiochip1/sim_gpio17/pull")).unwrap();
    assert_eq!(pull, "pull-up");
    let s = board.0.borrow();
    assert_eq!(s.dm.value, common::DT_VALUE);
    assert!(s.dm.buf.is_empty());
    assert_eq!(s.dm.open_count, 0, "devicemodel file left open");
}

#[test]
fn missing_overlay_is_reported_as_not_applied() {
    let layout = Layout {
        overlay: false,
        ..Layout::default()
    };
    let (report, ..) = run_with(layout, Bugs::default(), |_| {});
    let why = failure_containing(&report, "rpibsp,gpio-button");
    assert!(why.contains("overlay was not applied"), "{why}");
    assert_eq!(report.exit_code(true), 1);
}

#[test]
fn unbound_driver_names_the_module_to_load() {
    let layout = Layout {
        bind_led: false,
        ..Layout::default()
    };
    let (report, ..) = run_with(layout, Bugs::default(), |o| {
        o.only = vec![Group::Drivers, Group::Led]
    });
    let why = failure_containing(&report, "driver rpibsp-led registered");
    assert!(why.contains("modprobe rpibsp_led"), "{why}");
    let why = failure_containing(&report, "LED class device");
    assert!(why.contains("rpibsp_led.ko"), "{why}");
    assert!(report
        .cases
        .iter()
        .all(|c| c.group == "drivers" || c.group == "led"));
}

#[test]
fn stuck_led_gpio_is_caught_by_rppal_readback() {
    let (report, ..) = run_with(
        Layout::default(),
        Bugs {
            led_gpio_stuck: true,
            ..Bugs::default()
        },
        |_| {},
    );
    let why = failure_containing(&report, "GPIO 4 high after brightness 1");
    assert!(why.contains("stayed low"), "{why}");
    // The button/LED follow check sees it too.
    assert!(failures(&report)
        .iter()
        .any(|f| f.contains("press button on") && f.contains("stayed low")));
}

#[test]
fn led_pin_left_as_input_is_caught() {
    let (report, ..) = run_with(
        Layout::default(),
        Bugs {
            led_pin_input: true,
            ..Bugs::default()
        },
        |o| o.only = vec![Group::Led],
    );
    let why = failure_containing(&report, "not output");
    assert!(why.contains("BCM GPIO 4 is input"), "{why}");
}

#[test]
fn wrong_default_trigger_is_reported() {
    let layout = Layout {
        led_default_trigger: "heartbeat",
        ..Layout::default()
    };
    let (report, ..) = run_with(layout, Bugs::default(), |o| {
        o.only = vec![Group::Overlay, Group::Led]
    });
    let why = failure_containing(&report, "linux,default-trigger");
    assert!(why.contains("\"heartbeat\""), "{why}");
    let why = failure_containing(&report, "default trigger rpibsp-button active");
    assert!(why.contains("heartbeat"), "{why}");
}

#[test]
fn inverted_button_polarity_is_caught() {
    let (report, ..) = run_with(
        Layout::default(),
        Bugs {
            inverted_buttons: true,
            ..Bugs::default()
        },
        |o| o.only = vec![Group::Buttons],
    );
    let why = failure_containing(&report, "press button off");
    assert!(why.contains("polarity"), "{why}");
}

#[test]
fn bouncing_button_is_caught() {
    let (report, ..) = run_with(
        Layout::default(),
        Bugs {
            bounce: true,
            ..Bugs::default()
        },
        |o| o.only = vec![Group::Buttons],
    );
    let why = failure_containing(&report, "no bounce while held");
    assert!(why.contains("EV_KEY code 149 value 0"), "{why}");
    let why = failure_containing(&report, "release button on");
    assert!(why.contains("extra key events after the release"), "{why}");
}

#[test]
fn dead_button_driver_says_which_sysfs_write_got_no_event() {
    let (report, ..) = run_with(
        Layout::default(),
        Bugs {
            dead_buttons: true,
            ..Bugs::default()
        },
        |o| o.only = vec![Group::Buttons],
    );
    let why = failure_containing(&report, "press button off");
    assert!(why.contains("no EV_KEY 149 value 1"), "{why}");
    assert!(why.contains("sim_gpio18/pull"), "{why}");
}

#[test]
fn wrong_key_code_is_caught_in_overlay_and_buttons() {
    let layout = Layout {
        on_code: 30,
        ..Layout::default()
    };
    let (report, ..) = run_with(layout, Bugs::default(), |_| {});
    let why = failure_containing(&report, "linux,code is 30");
    assert!(why.contains("expected 148"), "{why}");
    assert!(
        failures(&report).iter().any(|f| f.contains("KEY_PROG1")),
        "{:#?}",
        failures(&report)
    );
}

#[test]
fn devicemodel_bugs_are_caught() {
    let bugs = Bugs {
        no_value_check: true,
        no_enospc: true,
        unknown_cmd_einval: true,
        ..Bugs::default()
    };
    let (report, ..) = run_with(Layout::default(), bugs, |o| {
        o.only = vec![Group::Devicemodel]
    });
    let why = failure_containing(&report, "IOC_SET_VALUE(1000001)");
    assert!(why.contains("succeeded") && why.contains("EINVAL"), "{why}");
    let why = failure_containing(&report, "ENOSPC");
    assert!(why.contains("succeeded"), "{why}");
    let why = failure_containing(&report, "unknown command number");
    assert!(why.contains("EINVAL") && why.contains("ENOTTY"), "{why}");
}

#[test]
fn missing_devicemodel_node_explains_devtmpfs() {
    let (report, tree, _) = {
        let layout = Layout::default();
        let tree = FakeTree::new(&layout);
        std::fs::remove_file(tree.roots.dev.join("rpibsp-devicemodel")).unwrap();
        let mut board = FakeBoard::new(&tree, &layout, Bugs::default());
        let mut opts = tree.options();
        opts.only = vec![Group::Devicemodel];
        (rpibsp_verify::run(&opts, &mut board), tree, board)
    };
    let why = failure_containing(&report, "exists");
    assert!(why.contains("devtmpfs"), "{why}");
    drop(tree);
}

#[test]
fn real_board_in_auto_mode_skips_presses_and_fails_without_allow_skip() {
    let layout = Layout {
        emulated: false,
        ..Layout::default()
    };
    let (report, ..) = run_with(layout, Bugs::default(), |_| {});
    assert_eq!(report.mode, Mode::Passive);
    assert!(failures(&report).is_empty(), "{:#?}", failures(&report));
    assert_eq!(report.counts().skipped, 2);
    assert_eq!(report.exit_code(false), 1, "skips must not pass silently");
    assert_eq!(report.exit_code(true), 0);
    let tap = render(&report, Format::Tap, false).unwrap();
    assert!(tap.contains("# SKIP real board without stimulus"), "{tap}");
}

#[test]
fn loopback_mode_drives_the_spare_gpios() {
    let layout = Layout {
        emulated: false,
        ..Layout::default()
    };
    let (report, _, board) = run_with(layout, Bugs::default(), |o| o.mode = Mode::Loopback);
    assert!(failures(&report).is_empty(), "{:#?}", failures(&report));
    assert_eq!(report.counts().skipped, 0);
    assert!(board.0.borrow().driven.is_empty(), "outputs not released");
}

#[test]
fn loopback_without_a_wire_for_a_button_fails_clearly() {
    let layout = Layout {
        emulated: false,
        ..Layout::default()
    };
    let (report, ..) = run_with(layout, Bugs::default(), |o| {
        o.mode = Mode::Loopback;
        o.loopback.truncate(1);
        o.only = vec![Group::Buttons];
    });
    let why = failure_containing(&report, "--loopback");
    assert!(why.contains("GPIO 18"), "{why}");
}

#[test]
fn interactive_mode_guides_the_person() {
    let layout = Layout {
        emulated: false,
        ..Layout::default()
    };
    let (report, _, board) = run_with(layout, Bugs::default(), |o| {
        o.mode = Mode::Interactive;
        o.only = vec![Group::Buttons];
    });
    assert!(failures(&report).is_empty(), "{:#?}", failures(&report));
    let told = board.0.borrow().told.clone();
    assert_eq!(told.len(), 4, "{told:#?}");
    assert!(
        told[0].contains("Press and hold the button on GPIO 17 (KEY_PROG1"),
        "{}",
        told[0]
    );
    assert!(
        told[1].contains("Release the button on GPIO 17"),
        "{}",
        told[1]
    );
}

#[test]
fn emulated_mode_requested_without_gpio_sim_fails() {
    let layout = Layout {
        emulated: false,
        ..Layout::default()
    };
    let (report, ..) = run_with(layout, Bugs::default(), |o| {
        o.mode = Mode::Emulated;
        o.only = vec![Group::Buttons];
    });
    let why = failure_containing(&report, "gpio-sim");
    assert!(why.contains("rpibsp-sim"), "{why}");
}

#[test]
fn every_output_format_renders_the_same_results() {
    let (report, ..) = run_with(
        Layout::default(),
        Bugs {
            led_gpio_stuck: true,
            ..Bugs::default()
        },
        |o| o.only = vec![Group::Led],
    );
    let counts = report.counts();

    let tap = render(&report, Format::Tap, false).unwrap();
    let doc = rpibsp_report::tap::parse(&tap);
    assert!(doc.problems().is_empty(), "{:?}", doc.problems());
    assert_eq!(doc.tests.len(), report.cases.len());

    let json: serde_json::Value =
        serde_json::from_str(&render(&report, Format::Json, false).unwrap()).unwrap();
    assert_eq!(json["summary"]["failed"], counts.failed);
    assert_eq!(json["summary"]["success"], false);
    assert_eq!(json["checks"].as_array().unwrap().len(), report.cases.len());

    let xml = render(&report, Format::Junit, false).unwrap();
    assert!(xml.contains(&format!("failures=\"{}\"", counts.failed)));

    let human = render(&report, Format::Human, false).unwrap();
    assert!(
        human.contains("FAIL  GPIO 4 high after brightness 1"),
        "{human}"
    );
    assert!(human.contains("-> BCM GPIO 4 stayed low"), "{human}");
    assert!(human.contains("FAILED:"), "{human}");
}

/// Collects what the report writer writes, shared with the fake board's probe.
struct Sink(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn results_are_written_as_each_check_completes() {
    use rpibsp_verify::output::ReportWriter;
    let layout = Layout {
        emulated: false,
        ..Layout::default()
    };
    let tree = FakeTree::new(&layout);
    let mut board = FakeBoard::new(&tree, &layout, Bugs::default());
    let out = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    board.0.borrow_mut().output_probe = Some(out.clone());
    let mut opts = tree.options();
    opts.mode = Mode::Interactive;
    for format in [Format::Tap, Format::Human] {
        out.borrow_mut().clear();
        board.0.borrow_mut().probes.clear();
        let mut writer = ReportWriter::new(Sink(out.clone()), format);
        let report = rpibsp_verify::run_observed(&opts, &mut board, &mut |e| writer.event(e));
        writer.finish(&report, false).unwrap();
        let whole = String::from_utf8(out.borrow().clone()).unwrap();
        assert_eq!(whole, render(&report, format, false).unwrap());

        // When the person is first asked to press a button, every earlier check is out.
        let probe = board.0.borrow().probes[0].clone();
        let before: Vec<&rpibsp_verify::Case> = report
            .cases
            .iter()
            .take_while(|c| !c.name.starts_with("press "))
            .collect();
        assert!(before.len() > 20, "{}", before.len());
        for c in &before {
            assert!(
                probe.contains(&c.name),
                "{:?} not written before the press:\n{probe}",
                c.name
            );
        }
        assert!(
            !probe.contains("passed, 0 failed"),
            "summary written early:\n{probe}"
        );
        if format == Format::Tap {
            let doc = rpibsp_report::tap::parse(&probe);
            assert_eq!(doc.tests.len(), before.len());
            assert_eq!(doc.plan, None, "the plan comes last");
            // The end: the plan, then the counts.
            let tail: Vec<&str> = whole.lines().rev().take(2).collect();
            assert_eq!(tail[1], format!("1..{}", report.cases.len()));
            assert_eq!(tail[0], format!("# {}", report.counts().line()));
        }
    }
}
