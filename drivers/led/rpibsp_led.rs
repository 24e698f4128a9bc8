// SPDX-License-Identifier: GPL-2.0

//! GPIO LED driver of the Raspberry Pi BSP.
//!
//! Binds to `rpibsp,gpio-led` device-tree nodes (platform driver `rpibsp-led`) and registers one
//! LED class device per node, `/sys/class/leds/<name>`, driving one GPIO line:
//!
//! - `gpios`: the line; `GPIO_ACTIVE_LOW` in its flags inverts it (handled by gpiolib).
//! - `label`, or `function` and `color`: the name of the LED class device (composed by the LED
//!   core: the label as is, otherwise `<color>:<function>`, otherwise the node name).
//! - `default-state`: `"on"`, `"off"` (default) or `"keep"` (keep the current level of the line).
//! - `linux,default-trigger`: the trigger the LED is attached to (e.g. `rpibsp-button`).
//! - `retain-state-suspended`: keep the LED as it is during system suspend; without it, the LED
//!   core switches the LED off on suspend and restores it on resume.
//! - `retain-state-shutdown`: keep the LED as it is when the system shuts down or the driver is
//!   unbound; without it, the LED is switched off then.
//!
//! This is the Rust counterpart of the `gpio-leds` driver (drivers/leds/leds-gpio.c) for one LED.

use kernel::{
    device::{
        self,
        Core, //
    },
    driver,
    gpio::consumer::{
        Desc,
        Flags as GpioFlags, //
    },
    leds::{
        self,
        LedOps, //
    },
    of, platform,
    prelude::*,
    str::CString,
};

/// The name of the platform driver.
const NAME: &CStr = c"rpibsp-led";

/// The state the LED is put into when the driver binds (`default-state`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum DefaultState {
    Off,
    On,
    Keep,
}

impl DefaultState {
    fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::On => "on",
            Self::Keep => "keep",
        }
    }

    /// Reads the optional `default-state` property; an unknown value is an error.
    fn from_fwnode(dev: &device::Device, fwnode: &device::property::FwNode) -> Result<Self> {
        const PROP: &CStr = c"default-state";

        if !fwnode.property_present(PROP) {
            return Ok(Self::Off);
        }
        let value: CString = fwnode.property_read(PROP).optional().ok_or_else(|| {
            dev_err!(dev, "invalid '{}' property: not a string\n", PROP);
            EINVAL
        })?;
        match value.to_bytes() {
            b"off" => Ok(Self::Off),
            b"on" => Ok(Self::On),
            b"keep" => Ok(Self::Keep),
            _ => {
                dev_err!(
                    dev,
                    "invalid '{}' property value \"{}\" (expected \"on\", \"off\" or \"keep\")\n",
                    PROP,
                    value.to_str().unwrap_or("<not UTF-8>")
                );
                Err(EINVAL)
            }
        }
    }
}

/// The LED class device data: the GPIO line of the LED.
struct GpioLed<'a> {
    gpio: Desc<'a>,
}

#[vtable]
impl<'a> LedOps for GpioLed<'a> {
    /// Used when the line can be set without sleeping.
    fn brightness_set(&self, brightness: u32) {
        // Like leds-gpio: there is nobody to report the (unlikely) error to.
        let _ = self.gpio.set_value(brightness != leds::LED_OFF);
    }

    /// Used when setting the line may sleep (e.g. a GPIO expander on I2C).
    fn brightness_set_blocking(&self, brightness: u32) -> Result {
        self.gpio.set_value_cansleep(brightness != leds::LED_OFF)
    }
}

/// The driver's data of a bound `rpibsp,gpio-led` device.
struct RpiBspLed<'bound> {
    led: leds::Registration<'bound, GpioLed<'bound>>,
}

kernel::of_device_table!(
    OF_TABLE,
    <RpiBspLedDriver as platform::Driver>::IdInfo,
    [(of::DeviceId::new(c"rpibsp,gpio-led"), ())]
);

/// The platform driver `rpibsp-led`.
struct RpiBspLedDriver;

impl platform::Driver for RpiBspLedDriver {
    type IdInfo = ();
    type Data<'bound> = RpiBspLed<'bound>;
    const OF_ID_TABLE: Option<of::IdTable<Self::IdInfo>> = Some(&OF_TABLE);

    fn probe<'bound>(
        pdev: &'bound platform::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        let dev: &'bound device::Device<device::Bound> = pdev.as_ref();
        let fwnode = dev.fwnode().ok_or_else(|| {
            dev_err!(dev, "no device-tree node\n");
            ENODEV
        })?;

        let default_state = DefaultState::from_fwnode(dev, fwnode)?;

        let gpio = Desc::get(dev, None, GpioFlags::AsIs).inspect_err(|e| {
            if *e == ENOENT {
                dev_err!(dev, "missing 'gpios' property\n");
            } else if *e != EPROBE_DEFER {
                dev_err!(
                    dev,
                    "invalid 'gpios' property: cannot request the line (error {})\n",
                    e.to_errno()
                );
            }
        })?;

        let on = match default_state {
            DefaultState::Off => false,
            DefaultState::On => true,
            DefaultState::Keep => gpio.value_cansleep().inspect_err(|e| {
                dev_err!(
                    dev,
                    "cannot read the line for default-state \"keep\" (error {})\n",
                    e.to_errno()
                );
            })?,
        };
        gpio.direction_output(on).inspect_err(|e| {
            dev_err!(
                dev,
                "cannot make the line an output (error {})\n",
                e.to_errno()
            );
        })?;

        let mut flags = leds::Flags::NONE;
        if !fwnode.property_read_bool(c"retain-state-suspended") {
            flags |= leds::Flags::CORE_SUSPENDRESUME;
        }
        // `label`, `function`, `color`, `linux,default-trigger` and `retain-state-shutdown` are
        // read by the LED core from the firmware node.
        let config = leds::Config::new()
            .fwnode(fwnode)
            .max_brightness(1)
            .brightness(if on { leds::LED_ON } else { leds::LED_OFF })
            .flags(flags)
            .may_sleep(gpio.can_sleep());

        // The registration is part of the driver's device private data, which the driver core
        // drops when `pdev` is unbound, within `'bound`; the driver never forgets or leaks it.
        // SAFETY: By the above, the registration's `Drop` runs before the borrowed GPIO goes away.
        let led = unsafe { leds::Registration::new_with_lt(dev, config, GpioLed { gpio }) }
            .inspect_err(|e| {
                dev_err!(
                    dev,
                    "cannot register the LED class device (error {})\n",
                    e.to_errno()
                )
            })?;

        dev_info!(
            dev,
            "LED {}, default-state {}, default trigger {}\n",
            led.name(),
            default_state.name(),
            fwnode
                .property_read::<CString>(c"linux,default-trigger")
                .optional()
                .as_deref()
                .unwrap_or(c"none")
        );

        Ok(RpiBspLed { led })
    }

    /// Switches the LED off when the system goes down, unless `retain-state-shutdown`.
    fn shutdown<'bound>(_pdev: &'bound platform::Device<Core<'_>>, this: Pin<&RpiBspLed<'bound>>) {
        let led = &this.led;
        if led.flags().contains(leds::Flags::RETAIN_AT_SHUTDOWN) {
            return;
        }

        // Stop what a trigger is doing (e.g. a software blink), then switch the line off right
        // away like leds-gpio does: the LED core may defer the request to a work item, which
        // would not run before the system goes down.
        led.set_brightness(leds::LED_OFF);
        let _ = led.data().gpio.set_value_cansleep(false);
    }
}

/// The module: registers the platform driver under its own name.
#[pin_data]
struct RpiBspLedModule {
    #[pin]
    _driver: driver::Registration<platform::Adapter<RpiBspLedDriver>>,
}

impl kernel::InPlaceModule for RpiBspLedModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _driver <- driver::Registration::new(NAME, module),
        })
    }
}

module! {
    type: RpiBspLedModule,
    name: "rpibsp_led",
    authors: ["Rpi BSP Developers"],
    description: "GPIO LED driver of the Raspberry Pi BSP",
    license: "GPL",
}
