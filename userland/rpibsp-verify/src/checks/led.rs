//! The LED: class device of the rpibsp-led device, its trigger, and BCM GPIO 4 following the
//! brightness (read with rppal, never reconfigured).

use std::time::Instant;

use crate::board;
use crate::names::*;
use crate::platform::{GpioFunction, GpioReading};
use crate::sysfs::LedDev;
use crate::Ctx;

/// Polls GPIO 4 until its level is `want_high` or the GPIO timeout passes.
pub fn wait_led_gpio(ctx: &mut Ctx<'_>, want_high: bool) -> Result<GpioReading, String> {
    let deadline = Instant::now() + ctx.opts.gpio_timeout;
    loop {
        let r = ctx
            .platform
            .bcm_gpio(LED_GPIO)
            .map_err(|e| format!("cannot read BCM GPIO {LED_GPIO}: {e}"))?;
        if r.high == want_high || Instant::now() >= deadline || ctx.interrupted().is_some() {
            return Ok(r);
        }
        ctx.platform.sleep(std::time::Duration::from_millis(20));
    }
}

/// Checks that GPIO 4 is an output at the level that matches the LED being on or off.
pub fn gpio_matches(ctx: &mut Ctx<'_>, led_on: bool, context: &str) -> Result<String, String> {
    let r = wait_led_gpio(ctx, led_on)?;
    let level = |h: bool| if h { "high" } else { "low" };
    if r.function != GpioFunction::Output {
        return Err(format!(
            "BCM GPIO {LED_GPIO} is {} (not output) {context}: the LED driver did not configure the pin \
             (pinctrl / gpiod_get direction)",
            r.function
        ));
    }
    if r.high != led_on {
        return Err(format!(
            "BCM GPIO {LED_GPIO} stayed {} {context}, expected {} within {} ms: the LED driver's \
             brightness_set does not reach the pin",
            level(r.high),
            level(led_on),
            ctx.opts.gpio_timeout.as_millis()
        ));
    }
    Ok(format!("GPIO {LED_GPIO} output, {}", level(r.high)))
}

fn set_and_check(ctx: &mut Ctx<'_>, led: &LedDev, value: u64, on: bool) {
    let name = format!(
        "brightness {value} -> LED {}",
        if on { "on" } else { "off" }
    );
    let result = led
        .set_brightness(value)
        .map_err(|e| e.to_string())
        .and_then(|_| led.brightness().map_err(|e| e.to_string()))
        .and_then(|read| {
            let ok = if on { read > 0 } else { read == 0 };
            if ok {
                Ok(format!("brightness reads {read}"))
            } else {
                Err(format!(
                    "wrote {value} to {}, it reads back {read}",
                    led.brightness_path().display()
                ))
            }
        });
    if ctx.check(name, result) {
        let gpio = gpio_matches(ctx, on, &format!("after writing brightness {value}"));
        ctx.check(
            format!(
                "GPIO {LED_GPIO} {} after brightness {value}",
                if on { "high" } else { "low" }
            ),
            gpio,
        );
    }
}

/// Runs the LED checks.
pub fn run(ctx: &mut Ctx<'_>) {
    let led = match board::find_led(ctx.roots()) {
        Ok(l) => {
            ctx.pass(
                "LED class device of rpibsp-led",
                format!("{} ({})", l.name, l.dir.display()),
            );
            l
        }
        Err(e) => {
            ctx.fail("LED class device of rpibsp-led", e);
            return;
        }
    };
    let max = match led.max_brightness() {
        Ok(m) if m > 0 => {
            ctx.pass("max_brightness > 0", m.to_string());
            m
        }
        Ok(m) => {
            ctx.fail("max_brightness > 0", format!("max_brightness is {m}"));
            return;
        }
        Err(e) => {
            ctx.fail("max_brightness > 0", e.to_string());
            return;
        }
    };
    let (triggers, active) = match led.triggers() {
        Ok(t) => t,
        Err(e) => {
            ctx.fail(format!("trigger {LED_TRIGGER} available"), e.to_string());
            (Vec::new(), None)
        }
    };
    if !triggers.is_empty() {
        let r = if triggers.iter().any(|t| t == LED_TRIGGER) {
            Ok(String::new())
        } else {
            Err(format!(
                "{} does not offer trigger {LED_TRIGGER:?} (offers: {}): the button driver module \
                 registers it; is rpibsp_button loaded?",
                led.dir.join("trigger").display(),
                triggers.join(" ")
            ))
        };
        ctx.check(format!("trigger {LED_TRIGGER} available"), r);
        let r = match &active {
            Some(t) if t == LED_TRIGGER => Ok(String::new()),
            other => Err(format!(
                "active trigger is {}, expected {LED_TRIGGER:?} from linux,default-trigger",
                other.as_deref().unwrap_or("none")
            )),
        };
        ctx.check(format!("default trigger {LED_TRIGGER} active"), r);
    }

    let saved_brightness = led.brightness().ok();
    // Writing brightness 0 would detach the trigger anyway: detach it explicitly, restore below.
    if active.as_deref().is_some_and(|t| t != "none") {
        if let Err(e) = led.set_trigger("none") {
            ctx.fail("detach trigger for manual control", e.to_string());
            return;
        }
    }
    set_and_check(ctx, &led, max, true);
    set_and_check(ctx, &led, 0, false);

    let restore = match &active {
        Some(t) if t != "none" => led.set_trigger(t).map(|_| format!("trigger {t}")),
        _ => match saved_brightness {
            Some(b) => led.set_brightness(b).map(|_| format!("brightness {b}")),
            None => Ok("nothing to restore".into()),
        },
    };
    ctx.check("LED state restored", restore.map_err(|e| e.to_string()));
}
