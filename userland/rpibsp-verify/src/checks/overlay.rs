//! The board overlay: nodes found by compatible, with the properties the contract fixes.

use crate::board::{self, controller_of, Button, Controller};
use crate::devtree::{gpio_spec, DtIndex, DtNode};
use crate::names::*;
use crate::Ctx;

const NOT_APPLIED: &str = "the board overlay was not applied (check the dtoverlay= line in \
                           config.txt, or the fdtoverlay step that merges it into the DTB)";

/// Runs the overlay checks.
pub fn run(ctx: &mut Ctx<'_>) {
    let index = match board::load_tree(ctx.roots()) {
        Ok(i) => {
            ctx.pass(
                "live device tree readable",
                format!(
                    "{} nodes, board {}",
                    i.nodes.len(),
                    i.board_compatible().join(", ")
                ),
            );
            i
        }
        Err(e) => {
            ctx.fail("live device tree readable", e);
            return;
        }
    };
    buttons(ctx, &index);
    led(ctx, &index);
    devicemodel(ctx, &index);
    if ctx.sim_board {
        gpio_sim(ctx, &index);
    }
}

fn paths(nodes: &[&DtNode]) -> String {
    nodes
        .iter()
        .map(|n| n.path.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn count_check(ctx: &mut Ctx<'_>, compat: &str, nodes: &[&DtNode], want: usize) -> bool {
    let name = format!("{want} node(s) with compatible \"{compat}\"");
    let ok = nodes.len() == want;
    let result = if ok {
        Ok(paths(nodes))
    } else if nodes.is_empty() {
        Err(format!(
            "no node with compatible \"{compat}\": {NOT_APPLIED}"
        ))
    } else {
        Err(format!(
            "found {} nodes ({}), expected {want}",
            nodes.len(),
            paths(nodes)
        ))
    };
    ctx.check(name, result);
    !nodes.is_empty()
}

fn status_problem(node: &DtNode) -> Option<String> {
    match node.enabled() {
        Ok(true) => None,
        Ok(false) => Some(format!(
            "status is {:?}, so no device is created",
            node.string("status").ok().flatten().unwrap_or_default()
        )),
        Err(e) => Some(e.to_string()),
    }
}

fn expected_controller(ctx: &Ctx<'_>) -> &'static str {
    if ctx.sim_board {
        "the gpio-sim bank labelled \"rpibsp-sim\""
    } else {
        "the BCM GPIO controller (brcm,bcm2835-gpio / brcm,bcm2711-gpio)"
    }
}

fn controller_ok(ctx: &Ctx<'_>, c: &Controller) -> bool {
    match c {
        Controller::Bcm(_) => !ctx.sim_board,
        Controller::Sim(label, _) => ctx.sim_board && label.as_deref() == Some(SIM_LABEL),
        _ => false,
    }
}

fn buttons(ctx: &mut Ctx<'_>, index: &DtIndex) {
    let nodes = index.compatible(COMPAT_BUTTON);
    if !count_check(ctx, COMPAT_BUTTON, &nodes, 2) {
        return;
    }
    let mut codes = Vec::new();
    for node in nodes {
        let b = Button::from_node(node);
        let mut problems: Vec<String> = status_problem(node).into_iter().collect();
        let mut facts = Vec::new();
        match &b.code {
            Ok(code) => {
                codes.push(*code);
                facts.push(format!("linux,code {code}"));
            }
            Err(e) => problems.push(e.clone()),
        }
        let (want_line, want_action) = match b.code {
            Ok(c) if c == KEY_ON as u32 => (Some(GPIO_ON), Some("on")),
            Ok(c) if c == KEY_OFF as u32 => (Some(GPIO_OFF), Some("off")),
            Ok(c) => {
                problems.push(format!(
                    "linux,code is {c}, expected {KEY_ON} (KEY_PROG1, on) or {KEY_OFF} (KEY_PROG2, off)"
                ));
                (None, None)
            }
            Err(_) => (None, None),
        };
        match &b.gpio {
            Ok(spec) => {
                let ctrl = controller_of(index, spec);
                facts.push(format!(
                    "gpios line {} flags {:#x} on {ctrl}",
                    spec.line, spec.flags
                ));
                if !controller_ok(ctx, &ctrl) {
                    problems.push(format!(
                        "gpios points at {ctrl}, expected {}",
                        expected_controller(ctx)
                    ));
                }
                if let Some(want) = want_line {
                    if spec.line != want {
                        problems.push(format!("gpios line is {}, expected {want}", spec.line));
                    }
                }
                if !spec.active_low() {
                    problems.push(format!(
                        "gpios flags {:#x} lack GPIO_ACTIVE_LOW (the button pulls the line low)",
                        spec.flags
                    ));
                }
            }
            Err(e) => problems.push(e.clone()),
        }
        if node.string("label").ok().flatten().is_none() {
            problems.push("property `label` (string) is missing or not a string".into());
        }
        match &b.debounce_ms {
            Ok(ms) if (1..=1000).contains(ms) => facts.push(format!("debounce {ms} ms")),
            Ok(ms) => problems.push(format!("debounce-interval is {ms}, allowed 1..=1000 ms")),
            Err(e) => problems.push(e.clone()),
        }
        match b.debounce_mode.as_deref() {
            Ok(m @ ("stable" | "fast")) => facts.push(format!("debounce mode {m}")),
            Ok(m) => problems.push(format!(
                "rpibsp,debounce-mode is {m:?}, expected \"stable\" or \"fast\""
            )),
            Err(e) => problems.push(e.clone()),
        }
        match b.led_action.as_deref() {
            Ok(a) if !matches!(a, "on" | "off" | "toggle" | "none") => problems.push(format!(
                "rpibsp,led-action is {a:?}, expected \"on\", \"off\", \"toggle\" or \"none\""
            )),
            Ok(a) => {
                facts.push(format!("led-action {a}"));
                if let Some(want) = want_action {
                    if a != want {
                        problems.push(format!(
                            "rpibsp,led-action is {a:?}, the overlay sets {want:?} for this button"
                        ));
                    }
                }
            }
            Err(e) => problems.push(e.clone()),
        }
        let name = format!("button node {} properties", node.path);
        if problems.is_empty() {
            ctx.pass(name, facts.join(", "));
        } else {
            ctx.fail(name, format!("{}: {}", node.path, problems.join("; ")));
        }
    }
    codes.sort_unstable();
    let want = vec![KEY_ON as u32, KEY_OFF as u32];
    let result = if codes == want {
        Ok(format!("{KEY_ON} and {KEY_OFF}"))
    } else {
        Err(format!("buttons report key codes {codes:?}, expected one {KEY_ON} (on) and one {KEY_OFF} (off)"))
    };
    ctx.check("one on-button and one off-button", result);
}

fn led(ctx: &mut Ctx<'_>, index: &DtIndex) {
    let nodes = index.compatible(COMPAT_LED);
    if !count_check(ctx, COMPAT_LED, &nodes, 1) {
        return;
    }
    let node = nodes[0];
    let mut problems: Vec<String> = status_problem(node).into_iter().collect();
    let mut facts = Vec::new();
    match gpio_spec(node, "gpios") {
        Ok(Some(spec)) => {
            let ctrl = controller_of(index, &spec);
            facts.push(format!(
                "gpios line {} flags {:#x} on {ctrl}",
                spec.line, spec.flags
            ));
            if !matches!(ctrl, Controller::Bcm(_)) {
                problems.push(format!(
                    "gpios points at {ctrl}, expected the BCM GPIO controller (the LED stays on BCM GPIO 4, also on the emulated board)"
                ));
            }
            if spec.line != LED_GPIO as u32 {
                problems.push(format!(
                    "gpios line is {}, expected BCM GPIO {LED_GPIO}",
                    spec.line
                ));
            }
            if spec.active_low() {
                problems.push("gpios has GPIO_ACTIVE_LOW, expected GPIO_ACTIVE_HIGH".into());
            }
        }
        Ok(None) => problems.push("required property `gpios` is missing".into()),
        Err(e) => problems.push(e.to_string()),
    }
    let has_label = node.string("label").ok().flatten().is_some();
    let has_function = node.string("function").ok().flatten().is_some() && node.has("color");
    if !has_label && !has_function {
        problems.push("neither `label` nor `function`+`color` is set".into());
    }
    match node.string("default-state") {
        Ok(None) => facts.push("default-state off (default)".into()),
        Ok(Some(s)) if matches!(s.as_str(), "on" | "off" | "keep") => {
            facts.push(format!("default-state {s}"))
        }
        Ok(Some(s)) => problems.push(format!(
            "default-state is {s:?}, expected \"on\", \"off\" or \"keep\""
        )),
        Err(e) => problems.push(e.to_string()),
    }
    match node.string("linux,default-trigger") {
        Ok(Some(t)) if t == LED_TRIGGER => facts.push(format!("default trigger {t}")),
        Ok(Some(t)) => problems.push(format!(
            "linux,default-trigger is {t:?}, the overlay sets {LED_TRIGGER:?}"
        )),
        Ok(None) => problems.push(format!(
            "linux,default-trigger is missing, the overlay sets {LED_TRIGGER:?}"
        )),
        Err(e) => problems.push(e.to_string()),
    }
    let name = format!("LED node {} properties", node.path);
    if problems.is_empty() {
        ctx.pass(name, facts.join(", "));
    } else {
        ctx.fail(name, format!("{}: {}", node.path, problems.join("; ")));
    }
}

fn devicemodel(ctx: &mut Ctx<'_>, index: &DtIndex) {
    let nodes = index.compatible(COMPAT_DEVICEMODEL);
    if !count_check(ctx, COMPAT_DEVICEMODEL, &nodes, 1) {
        return;
    }
    let node = nodes[0];
    let mut problems: Vec<String> = status_problem(node).into_iter().collect();
    let mut facts = Vec::new();
    match node.string("rpibsp,greeting") {
        Ok(Some(g)) if g.len() <= 31 => facts.push(format!("greeting {g:?}")),
        Ok(Some(g)) => problems.push(format!(
            "rpibsp,greeting is {} bytes, at most 31 allowed",
            g.len()
        )),
        Ok(None) => problems.push("required property `rpibsp,greeting` is missing".into()),
        Err(e) => problems.push(e.to_string()),
    }
    match node.u32("rpibsp,value") {
        Ok(Some(v)) if v <= rpibsp_abi::VALUE_MAX => facts.push(format!("value {v}")),
        Ok(Some(v)) => problems.push(format!(
            "rpibsp,value is {v}, at most {} allowed",
            rpibsp_abi::VALUE_MAX
        )),
        Ok(None) => problems.push("required property `rpibsp,value` is missing".into()),
        Err(e) => problems.push(e.to_string()),
    }
    let name = format!("devicemodel node {} properties", node.path);
    if problems.is_empty() {
        ctx.pass(name, facts.join(", "));
    } else {
        ctx.fail(name, format!("{}: {}", node.path, problems.join("; ")));
    }
}

fn gpio_sim(ctx: &mut Ctx<'_>, index: &DtIndex) {
    let sims = index.compatible(COMPAT_GPIO_SIM);
    let banks: Vec<&DtNode> = index
        .nodes
        .iter()
        .filter(|n| n.string("gpio-sim,label").ok().flatten().as_deref() == Some(SIM_LABEL))
        .collect();
    let result = match (sims.first(), banks.first()) {
        (None, _) => Err(format!(
            "no \"{COMPAT_GPIO_SIM}\" node: the emulation overlay was not applied"
        )),
        (Some(s), None) => Err(format!(
            "{} has no bank with gpio-sim,label = \"{SIM_LABEL}\"",
            s.path
        )),
        (Some(_), Some(bank)) => match bank.u32("ngpios") {
            Ok(Some(n)) if n > GPIO_OFF => Ok(format!("{} with {n} lines", bank.path)),
            Ok(Some(n)) => Err(format!(
                "{}: ngpios is {n}, lines {GPIO_ON} and {GPIO_OFF} need at least {}",
                bank.path,
                GPIO_OFF + 1
            )),
            Ok(None) => Err(format!("{}: ngpios is missing", bank.path)),
            Err(e) => Err(e.to_string()),
        },
    };
    ctx.check("gpio-sim bank \"rpibsp-sim\" (emulated board)", result);
}
