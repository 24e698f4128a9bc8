//! Buttons: input devices, key codes, press/release events and the LED following the
//! buttons through the rpibsp-button LED trigger.
//!
//! Stimulus per mode: gpio-sim `pull` attributes (emulated), spare GPIOs driven by rppal
//! (loopback), or a person (interactive).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::board::{self, Button};
use crate::checks::led::gpio_matches;
use crate::names::*;
use crate::platform::{InputDevice, InputEvent};
use crate::sysfs::{self, InputDev, LedDev, SimChip};
use crate::{Ctx, Mode};

/// How a button is pressed in this run.
enum Stimulus {
    Sim(SimChip),
    Loopback,
    Person,
}

struct Target {
    button: Button,
    code: u16,
    input: InputDev,
}

fn key_name(code: u16) -> String {
    match code {
        KEY_ON => "KEY_PROG1".into(),
        KEY_OFF => "KEY_PROG2".into(),
        c => format!("key {c}"),
    }
}

/// Runs the button checks.
pub fn run(ctx: &mut Ctx<'_>) {
    let index = match board::load_tree(ctx.roots()) {
        Ok(i) => i,
        Err(e) => {
            ctx.fail("button nodes", e);
            return;
        }
    };
    let buttons: Vec<Button> = index
        .compatible(COMPAT_BUTTON)
        .into_iter()
        .map(Button::from_node)
        .collect();
    if buttons.is_empty() {
        ctx.fail(
            "button nodes",
            format!("no node with compatible \"{COMPAT_BUTTON}\": the overlay was not applied"),
        );
        return;
    }

    let mut targets = Vec::new();
    for b in buttons {
        let name = format!("input device of {}", b.node.path);
        let (dev, _) = board::binding_of(ctx.roots(), &b.node);
        let (inputs, how) = board::find_inputs(ctx.roots(), dev.as_deref(), &b.label);
        let input = match inputs.as_slice() {
            [one] => {
                ctx.pass(
                    name,
                    format!(
                        "{} ({}, name {:?}, phys {:?}, found by {how})",
                        one.event,
                        one.devnode.display(),
                        one.name,
                        one.phys
                    ),
                );
                one.clone()
            }
            [] => {
                ctx.fail(
                    name,
                    format!(
                        "no {}/event* belongs to {} ({}) and none is named {:?}: the button driver did \
                         not register an input device, or evdev (CONFIG_INPUT_EVDEV) is missing",
                        ctx.roots().sys.join("class/input").display(),
                        b.node.path,
                        dev.map(|d| d.display().to_string()).unwrap_or_else(|| "no platform device".into()),
                        b.label
                    ),
                );
                continue;
            }
            many => {
                ctx.fail(
                    name,
                    format!(
                        "{} input devices belong to {}: {}; expected one",
                        many.len(),
                        b.node.path,
                        many.iter()
                            .map(|i| i.event.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                continue;
            }
        };
        let Ok(code) = b.code.clone() else {
            ctx.fail(
                format!("{}: key code", b.node.path),
                "linux,code missing or malformed (see overlay checks)",
            );
            continue;
        };
        let code = code as u16;
        let caps = match input.has_key(code) {
            Ok(true) => Ok(format!("{} advertises {}", input.event, key_name(code))),
            Ok(false) => Err(format!(
                "{} does not advertise key {code} in capabilities/key: the driver did not call \
                 input_set_capability(EV_KEY, linux,code)",
                input.event
            )),
            Err(e) => Err(e.to_string()),
        };
        ctx.check(format!("{} reports {}", input.event, key_name(code)), caps);
        targets.push(Target {
            button: b,
            code,
            input,
        });
    }
    if targets.is_empty() {
        return;
    }

    let stimulus = match ctx.mode {
        Mode::Passive | Mode::Auto => {
            for t in &targets {
                ctx.skip(
                    format!("press {}", t.button.node.path),
                    "real board without stimulus: rerun with --mode interactive (press by hand) or \
                     --mode loopback (wired GPIOs)",
                );
            }
            return;
        }
        Mode::Emulated => match board::find_sim_chip(&ctx.opts.roots, ctx.platform) {
            Some(chip) => Stimulus::Sim(chip),
            None => {
                ctx.fail(
                    "gpio-sim chip rpibsp-sim",
                    format!(
                        "no gpio-sim chip labelled \"{SIM_LABEL}\" below {}: cannot press buttons on \
                         the emulated board (CONFIG_GPIO_SIM, emulation overlay)",
                        ctx.roots().sys.display()
                    ),
                );
                return;
            }
        },
        Mode::Loopback => Stimulus::Loopback,
        Mode::Interactive => Stimulus::Person,
    };

    let mut inputs: BTreeMap<String, Box<dyn InputDevice>> = BTreeMap::new();
    let mut usable = Vec::new();
    for t in targets {
        match ctx.platform.open_input(&t.input.devnode) {
            Ok(dev) => {
                inputs.insert(t.input.event.clone(), dev);
                usable.push(t);
            }
            Err(e) => ctx.fail(format!("open {}", t.input.devnode.display()), e.to_string()),
        }
    }
    let targets = usable;
    if targets.is_empty() {
        return;
    }

    // Everything released before starting.
    if !matches!(stimulus, Stimulus::Person) {
        for t in &targets {
            if let Err(e) = stimulate(ctx, &stimulus, t, false) {
                ctx.fail(format!("release {} before the test", t.button.node.path), e);
                return;
            }
        }
        let settle = settle_time(&targets);
        ctx.platform.sleep(settle);
    }
    for dev in inputs.values_mut() {
        while let Ok(Some(_)) = dev.next_event(Duration::from_millis(30)) {}
    }

    // The LED has to be driven by the button trigger for the follow checks.
    let led = board::find_led(ctx.roots());
    let mut restore_trigger = None;
    if let Ok(led) = &led {
        if let Ok((all, active)) = led.triggers() {
            if active.as_deref() != Some(LED_TRIGGER) && all.iter().any(|t| t == LED_TRIGGER) {
                match led.set_trigger(LED_TRIGGER) {
                    Ok(()) => restore_trigger = Some(active.unwrap_or_else(|| "none".into())),
                    Err(e) => ctx.fail("select LED trigger rpibsp-button", e.to_string()),
                }
            }
        }
    }

    let order: Vec<u16> = match stimulus {
        Stimulus::Person => vec![KEY_ON, KEY_OFF],
        // Off first: the LED then starts from a known state, so "on" and "off" both prove a change.
        _ => vec![KEY_OFF, KEY_ON, KEY_OFF],
    };
    let mut seen_codes = Vec::new();
    for code in order {
        if ctx.interrupted().is_some() {
            break; // no further press; the outputs are released below
        }
        let Some(t) = targets.iter().find(|t| t.code == code) else {
            if !seen_codes.contains(&code) {
                ctx.fail(
                    format!("press {}", key_name(code)),
                    format!("no usable button reports {}", key_name(code)),
                );
                seen_codes.push(code);
            }
            continue;
        };
        let dev = inputs.get_mut(&t.input.event).expect("opened above");
        press_release(ctx, &stimulus, t, dev.as_mut(), led.as_ref().ok());
    }

    if let (Some(old), Ok(led)) = (restore_trigger, &led) {
        if let Err(e) = led.set_trigger(&old) {
            ctx.fail("restore LED trigger", e.to_string());
        }
    }
    if matches!(stimulus, Stimulus::Loopback) {
        ctx.platform.release_outputs();
    }
}

fn settle_time(targets: &[Target]) -> Duration {
    let max_debounce = targets
        .iter()
        .filter_map(|t| t.button.debounce_ms.as_ref().ok().copied())
        .max()
        .unwrap_or(20);
    Duration::from_millis(u64::from(max_debounce) * 3 + 50)
}

fn stimulate(
    ctx: &mut Ctx<'_>,
    stimulus: &Stimulus,
    t: &Target,
    pressed: bool,
) -> Result<String, String> {
    if let (true, Some(signal)) = (pressed, ctx.interrupted()) {
        return Err(format!(
            "not pressed: interrupted by {}",
            crate::interrupt::signal_name(signal)
        ));
    }
    let line = t
        .button
        .line()
        .ok_or_else(|| format!("{}: gpios missing or malformed", t.button.node.path))?;
    match stimulus {
        Stimulus::Sim(chip) => {
            // Active-low button: pull-down = pressed, pull-up = released.
            let value = if pressed { "pull-down" } else { "pull-up" };
            let path = chip.pull_path(line);
            if !path.exists() {
                return Err(format!(
                    "{} does not exist: gpio-sim chip {} has no line {line}",
                    path.display(),
                    chip.chip
                ));
            }
            sysfs::write_str(&path, value).map_err(|e| e.to_string())?;
            Ok(format!("wrote {value} to {}", path.display()))
        }
        Stimulus::Loopback => {
            let wire = ctx
                .opts
                .loopback
                .iter()
                .find(|w| w.button == line)
                .copied()
                .ok_or_else(|| {
                    format!("no --loopback wire for button GPIO {line} (e.g. --loopback 22:{line})")
                })?;
            ctx.platform
                .drive_bcm_gpio(wire.driver, !pressed)
                .map_err(|e| e.to_string())?;
            Ok(format!(
                "drove GPIO {} {} (wired to GPIO {line})",
                wire.driver,
                if pressed { "low" } else { "high" }
            ))
        }
        Stimulus::Person => {
            let secs = ctx.opts.press_timeout.as_secs();
            let text = if pressed {
                format!(
                    ">>> Press and hold the button on GPIO {line} ({}, {}) within {secs} s",
                    key_name(t.code),
                    t.button.label
                )
            } else {
                format!(">>> Release the button on GPIO {line} within {secs} s")
            };
            ctx.platform.tell_user(&text);
            Ok(format!("asked the operator: {text}"))
        }
    }
}

/// Waits for `EV_KEY code value` followed by `EV_SYN`.
fn expect_key(
    dev: &mut dyn InputDevice,
    code: u16,
    value: i32,
    timeout: Duration,
) -> Result<String, String> {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut others = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev = dev.next_event(left).map_err(|e| e.to_string())?;
        match ev {
            None => {
                let seen = if others.is_empty() {
                    "no events at all".to_string()
                } else {
                    format!("only: {}", others.join(", "))
                };
                return Err(format!(
                    "no EV_KEY {code} value {value} within {} ms ({seen})",
                    timeout.as_millis()
                ));
            }
            Some(InputEvent::Key { code: c, value: v }) if c == code && v == value => {
                let after = started.elapsed();
                return match dev
                    .next_event(Duration::from_millis(500))
                    .map_err(|e| e.to_string())?
                {
                    Some(InputEvent::Syn) => Ok(format!(
                        "EV_KEY {code} {value} + EV_SYN after {} ms",
                        after.as_millis()
                    )),
                    Some(other) => Err(format!(
                        "EV_KEY {code} {value} was followed by {other}, not EV_SYN"
                    )),
                    None => Err(format!(
                        "EV_KEY {code} {value} was not followed by EV_SYN (input_sync missing)"
                    )),
                };
            }
            Some(InputEvent::Key { code: c, value: 2 }) if c == code => {} // autorepeat
            Some(InputEvent::Key { code: c, value: v }) => {
                return Err(format!(
                    "expected EV_KEY {code} value {value}, got EV_KEY {c} value {v}{}",
                    if c != code {
                        " (wrong key code)"
                    } else {
                        " (wrong press/release polarity or a bounce)"
                    }
                ));
            }
            Some(InputEvent::Syn) => others.push("EV_SYN".into()),
            Some(other) => others.push(other.to_string()),
        }
    }
}

/// Key events (autorepeat aside) arriving within `window`.
fn extra_key_events(dev: &mut dyn InputDevice, window: Duration) -> Vec<String> {
    let mut extra = Vec::new();
    let end = Instant::now() + window;
    while let Ok(Some(ev)) = dev.next_event(end.saturating_duration_since(Instant::now())) {
        if matches!(ev, InputEvent::Key { value, .. } if value != 2) {
            extra.push(ev.to_string());
        }
    }
    extra
}

fn led_state(led: &LedDev) -> Option<bool> {
    led.brightness().ok().map(|b| b > 0)
}

fn wait_led(ctx: &mut Ctx<'_>, led: &LedDev, want_on: bool) -> Result<String, String> {
    let deadline = Instant::now() + ctx.opts.gpio_timeout;
    loop {
        let b = led.brightness().map_err(|e| e.to_string())?;
        if (b > 0) == want_on {
            break;
        }
        if Instant::now() >= deadline || ctx.interrupted().is_some() {
            return Err(format!(
                "LED brightness is {b}, expected {} within {} ms: the rpibsp-button trigger did not \
                 switch the LED",
                if want_on { "on (> 0)" } else { "off (0)" },
                ctx.opts.gpio_timeout.as_millis()
            ));
        }
        ctx.platform.sleep(Duration::from_millis(20));
    }
    let gpio = gpio_matches(ctx, want_on, "after the button press")?;
    Ok(format!(
        "brightness {}, {gpio}",
        led.brightness().unwrap_or(0)
    ))
}

fn press_release(
    ctx: &mut Ctx<'_>,
    stimulus: &Stimulus,
    t: &Target,
    dev: &mut dyn InputDevice,
    led: Option<&LedDev>,
) {
    let who = format!(
        "{} ({}, GPIO line {})",
        t.button.label,
        key_name(t.code),
        t.button.line().unwrap_or(0)
    );
    let timeout = match stimulus {
        Stimulus::Person => ctx.opts.press_timeout,
        _ => ctx.opts.event_timeout,
    };
    let led_before = led.and_then(led_state);

    let how = match stimulate(ctx, stimulus, t, true) {
        Ok(h) => h,
        Err(e) => {
            ctx.fail(format!("press {who}: event"), e);
            return;
        }
    };
    let r = expect_key(dev, t.code, 1, timeout).map_err(|e| {
        format!("{e} after {how}: the button driver did not report the press (IRQ on the line? debounce?)")
    });
    let key_down = match dev.key_down(t.code) {
        Ok(true) => vec!["EVIOCGKEY: key is down".to_string()],
        _ => Vec::new(),
    };
    ctx.check_with(format!("press {who}: event"), r, key_down);

    // The trigger acts on press.
    let action = t
        .button
        .led_action
        .clone()
        .unwrap_or_else(|_| "none".into());
    let want_on = match action.as_str() {
        "on" => Some(true),
        "off" => Some(false),
        "toggle" => led_before.map(|b| !b),
        _ => led_before,
    };
    match (led, want_on) {
        (Some(led), Some(want)) => {
            let r = wait_led(ctx, led, want);
            ctx.check(
                format!(
                    "press {who}: LED {} (led-action {action})",
                    if want { "on" } else { "off" }
                ),
                r,
            );
        }
        (None, _) => ctx.fail(
            format!("press {who}: LED follows (led-action {action})"),
            "no LED class device of rpibsp-led (see the led checks)",
        ),
        (Some(_), None) => {}
    }

    if !matches!(stimulus, Stimulus::Person) {
        let hold = settle_time(std::slice::from_ref(t));
        ctx.platform.sleep(hold);
        let extra = extra_key_events(dev, Duration::ZERO);
        let r = if extra.is_empty() {
            Ok(String::new())
        } else {
            Err(format!(
                "key events while the button was held: {} (debouncing lets bounces through)",
                extra.join(", ")
            ))
        };
        ctx.check(format!("press {who}: no bounce while held"), r);
    }
    let how = match stimulate(ctx, stimulus, t, false) {
        Ok(h) => h,
        Err(e) => {
            ctx.fail(format!("release {who}: event"), e);
            return;
        }
    };
    let mut r = expect_key(dev, t.code, 0, timeout)
        .map_err(|e| format!("{e} after {how}: the button driver did not report the release"));
    if r.is_ok() && !matches!(stimulus, Stimulus::Person) {
        // Anything more within the settle time is a bounce the debouncer let through.
        let extra = extra_key_events(dev, settle_time(std::slice::from_ref(t)));
        if !extra.is_empty() {
            r = Err(format!(
                "extra key events after the release: {} (debouncing lets bounces through)",
                extra.join(", ")
            ));
        }
    }
    ctx.check(format!("release {who}: event"), r);
}
