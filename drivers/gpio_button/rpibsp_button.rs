// SPDX-License-Identifier: GPL-2.0

//! rpibsp GPIO push-button driver.
//!
//! One platform device per button node (`compatible = "rpibsp,gpio-button"`). The button's GPIO
//! interrupt fires on both edges; the hard interrupt handler only takes the time of the edge and
//! counts it, the threaded handler reads the line, debounces it and reports the key through an
//! input device, with the time of the edge as event timestamp. A press also fires the
//! "rpibsp-button" LED trigger registered by this module, according to `rpibsp,led-action`.
//!
//! See `README.md` next to this file for the debounce modes, the sysfs attributes and PM.

use kernel::{
    device::{
        self,
        Bound,
        Core, //
    },
    driver,
    gpio::consumer::{
        Desc,
        Flags as GpioFlags, //
    },
    input::{
        self,
        BusType,
        EventType,
        Id, //
    },
    irq::{
        self,
        IrqReturn,
        ThreadedHandler,
        ThreadedIrqReturn,
        ThreadedRegistration, //
    },
    leds::{
        self,
        trigger::{
            Registration as TriggerRegistration,
            Trigger, //
        },
    },
    new_mutex, of, platform,
    prelude::*,
    str::CString,
    sync::{
        atomic::{
            Acquire,
            Atomic,
            Relaxed,
            Release, //
        },
        Mutex,
    },
    sysfs::{
        self,
        Attribute,
        Group,
        ShowBuffer, //
    },
    time::{
        delay::fsleep,
        Delta,
        Instant,
        Monotonic, //
    },
};

/// The platform driver name.
const DRIVER_NAME: &CStr = c"rpibsp-button";

/// The LED trigger fired by the buttons, see `rpibsp,led-action`.
static TRIGGER: Trigger = Trigger::new(c"rpibsp-button");

/// The number of edge times kept; a burst rarely has more edges before the thread runs, and only
/// the first and the last edge of a burst are needed.
const EDGE_TIMES: usize = 16;

/// Default, minimum and maximum of `debounce-interval`, in milliseconds.
const DEBOUNCE_DEFAULT_MS: u32 = 20;
const DEBOUNCE_MIN_MS: u32 = 1;
const DEBOUNCE_MAX_MS: u32 = 1000;

/// How the debounce interval is applied (`rpibsp,debounce-mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Report a change once the line has been stable for the interval.
    Stable,
    /// Report the first edge at once, ignore edges for the interval, then report the final level.
    Fast,
}

/// What a press does to the LED trigger (`rpibsp,led-action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LedAction {
    None,
    On,
    Off,
    Toggle,
}

impl LedAction {
    fn fire(self) {
        match self {
            Self::None => {}
            Self::On => TRIGGER.event(leds::LED_FULL),
            Self::Off => TRIGGER.event(leds::LED_OFF),
            Self::Toggle => TRIGGER.event(if TRIGGER.brightness() == leds::LED_OFF {
                leds::LED_FULL
            } else {
                leds::LED_OFF
            }),
        }
    }
}

/// The configuration of a button, from its device tree node.
struct Config {
    code: u32,
    label: CString,
    debounce_ms: u32,
    mode: Mode,
    led_action: LedAction,
    wakeup: bool,
}

impl Config {
    /// Reads and validates the properties of the button's node.
    ///
    /// Every failure is reported with exactly one message naming the property and its value.
    fn parse(dev: &device::Device) -> Result<Self> {
        let Some(fwnode) = dev.fwnode() else {
            dev_err!(dev, "no firmware node\n");
            return Err(ENODEV);
        };

        let code = match fwnode.property_read::<u32>(c"linux,code").optional() {
            Some(code) if code != 0 && code <= EventType::Key.max_code() => code,
            Some(code) => {
                dev_err!(dev, "linux,code: invalid key code {}\n", code);
                return Err(EINVAL);
            }
            None if fwnode.property_present(c"linux,code") => {
                dev_err!(dev, "linux,code: invalid value (expected one u32 cell)\n");
                return Err(EINVAL);
            }
            None => {
                dev_err!(dev, "linux,code: missing required property\n");
                return Err(EINVAL);
            }
        };

        let label = match fwnode.property_read::<CString>(c"label").optional() {
            Some(label) => label,
            None if fwnode.property_present(c"label") => {
                dev_err!(dev, "label: invalid value (expected a string)\n");
                return Err(EINVAL);
            }
            None => dev.name().to_cstring()?,
        };

        let debounce_ms = match fwnode.property_read::<u32>(c"debounce-interval").optional() {
            Some(ms) if (DEBOUNCE_MIN_MS..=DEBOUNCE_MAX_MS).contains(&ms) => ms,
            Some(ms) => {
                dev_err!(
                    dev,
                    "debounce-interval: {} ms out of range ({}..={} ms)\n",
                    ms,
                    DEBOUNCE_MIN_MS,
                    DEBOUNCE_MAX_MS
                );
                return Err(EINVAL);
            }
            None if fwnode.property_present(c"debounce-interval") => {
                dev_err!(
                    dev,
                    "debounce-interval: invalid value (expected one u32 cell)\n"
                );
                return Err(EINVAL);
            }
            None => DEBOUNCE_DEFAULT_MS,
        };

        let mode = Self::read_choice(
            dev,
            fwnode,
            c"rpibsp,debounce-mode",
            "mode",
            &[(b"stable", Mode::Stable), (b"fast", Mode::Fast)],
            "\"stable\" or \"fast\"",
        )?
        .unwrap_or(Mode::Stable);

        let led_action = Self::read_choice(
            dev,
            fwnode,
            c"rpibsp,led-action",
            "action",
            &[
                (b"none", LedAction::None),
                (b"on", LedAction::On),
                (b"off", LedAction::Off),
                (b"toggle", LedAction::Toggle),
            ],
            "\"on\", \"off\", \"toggle\" or \"none\"",
        )?
        .unwrap_or(LedAction::None);

        Ok(Self {
            code,
            label,
            debounce_ms,
            mode,
            led_action,
            wakeup: fwnode.property_read_bool(c"wakeup-source"),
        })
    }

    /// Reads the optional string property `name`, which must be one of `choices`; a present but
    /// unreadable or unknown value is an error, reported with `what` and `expected`.
    fn read_choice<T: Copy>(
        dev: &device::Device,
        fwnode: &device::property::FwNode,
        name: &CStr,
        what: &str,
        choices: &[(&[u8], T)],
        expected: &str,
    ) -> Result<Option<T>> {
        let name_str = name.to_str().unwrap_or("?");

        let Some(value) = fwnode.property_read::<CString>(name).optional() else {
            if fwnode.property_present(name) {
                dev_err!(dev, "{}: invalid value (expected a string)\n", name_str);
                return Err(EINVAL);
            }
            return Ok(None);
        };

        match choices
            .iter()
            .find(|(choice, _)| *choice == value.to_bytes())
        {
            Some((_, choice)) => Ok(Some(*choice)),
            None => {
                dev_err!(
                    dev,
                    "{}: unknown {} \"{}\" (expected {})\n",
                    name_str,
                    what,
                    value.to_str().unwrap_or("?"),
                    expected
                );
                Err(EINVAL)
            }
        }
    }
}

/// The debounced state of a button, protected by [`Button::state`].
struct State {
    /// The debounced level of the line: `true` if pressed.
    pressed: bool,
}

/// A button: the line, the edge bookkeeping of the interrupt handlers, the statistics.
///
/// This is the data of the button's input device, so that its `open` callback can report the
/// state.
#[pin_data]
struct Button<'b> {
    gpio: Desc<'b>,
    code: u32,
    mode: Mode,
    led_action: LedAction,
    wakeup: bool,
    debounce_ms: Atomic<u32>,

    /// The reference point of the edge times below.
    epoch: Instant<Monotonic>,
    /// The times of the last [`EDGE_TIMES`] edges, in nanoseconds since `epoch`: edge number `n`
    /// (counting from 0) at index `n % EDGE_TIMES`.
    times: [Atomic<i64>; EDGE_TIMES],
    /// The number of edges seen by the hard interrupt handler.
    edges: Atomic<u64>,
    /// The number of edges the threaded handler has consumed.
    consumed: Atomic<u64>,

    /// The number of presses reported.
    presses: Atomic<u64>,
    /// The number of edges that did not change the debounced state.
    bounces: Atomic<u64>,

    /// Serialises the reporting of the debounced state (threaded handler, open, resume).
    #[pin]
    state: Mutex<State>,
}

impl Button<'_> {
    fn since_epoch(&self, time: Instant<Monotonic>) -> i64 {
        (time - self.epoch).as_nanos()
    }

    fn at(&self, nanos: i64) -> Instant<Monotonic> {
        self.epoch + Delta::from_nanos(nanos)
    }

    fn interval(&self) -> Delta {
        Delta::from_millis(i64::from(self.debounce_ms.load(Relaxed)))
    }

    /// Records an edge; called by the hard interrupt handler (never concurrently with itself).
    fn edge(&self, time: Instant<Monotonic>) {
        let n = self.edges.load(Relaxed);

        self.times[Self::slot(n)].store(self.since_epoch(time), Relaxed);
        // Publishes the time with the count, see `edge_time()`.
        self.edges.store(n.wrapping_add(1), Release);
    }

    fn slot(n: u64) -> usize {
        // The remainder is below `EDGE_TIMES`, it fits.
        (n % EDGE_TIMES as u64) as usize
    }

    /// Returns the time of edge number `n`, where `count` is the number of edges seen so far
    /// (loaded with `Acquire`). If the edge is too old to be recorded, the oldest recorded one.
    fn edge_time(&self, n: u64, count: u64) -> Instant<Monotonic> {
        let n = n.max(count.saturating_sub(EDGE_TIMES as u64));

        self.at(self.times[Self::slot(n)].load(Relaxed))
    }

    /// Returns the number of edges seen so far and the time of the last one.
    fn last_edge(&self) -> (u64, Instant<Monotonic>) {
        let count = self.edges.load(Acquire);

        (count, self.edge_time(count.saturating_sub(1), count))
    }

    /// Reads the line; a failed read is reported and leaves the state unchanged.
    fn read(&self) -> Option<bool> {
        match self.gpio.value_cansleep() {
            Ok(pressed) => Some(pressed),
            Err(e) => {
                dev_warn!(
                    self.gpio.device(),
                    "cannot read the line (error {})\n",
                    e.to_errno()
                );
                None
            }
        }
    }

    /// Makes `pressed` the debounced state, reports it as happened at `time` and fires the LED
    /// trigger on a press.
    ///
    /// The key is reported if the input core's state differs (it releases keys on suspend),
    /// even if the debounced state does not change. Returns `true` if the debounced state
    /// changed.
    fn set_state(&self, input: &Input<'_>, pressed: bool, time: Instant<Monotonic>) -> bool {
        let mut state = self.state.lock();

        if pressed != input.is_key_pressed(self.code) {
            input
                .report()
                .timestamp(time)
                .key(self.code, pressed)
                .sync();
        }

        if pressed == state.pressed {
            return false;
        }

        state.pressed = pressed;
        if pressed {
            self.presses.add(1, Relaxed);
            self.led_action.fire();
        }

        true
    }

    /// Reads the line and makes it the debounced state; see [`Button::set_state`].
    fn sample(&self, input: &Input<'_>, time: Instant<Monotonic>) -> bool {
        self.read()
            .is_some_and(|pressed| self.set_state(input, pressed, time))
    }

    /// Returns the time left until `deadline`, zero or negative if it has passed.
    fn until(deadline: Instant<Monotonic>) -> Delta {
        deadline - Instant::<Monotonic>::now()
    }

    /// Sleeps until `deadline`.
    fn sleep_until(deadline: Instant<Monotonic>) {
        let left = Self::until(deadline);
        if left.as_nanos() > 0 {
            fsleep(left);
        }
    }

    /// Debounces the edges counted by the hard interrupt handler; called by the threaded
    /// handler, in a loop until no edges are left.
    fn debounce(&self, input: &Input<'_>) {
        loop {
            let start = self.consumed.load(Relaxed);
            if self.edges.load(Acquire) == start {
                return;
            }

            let interval = self.interval();
            let (seen, changes) = match self.mode {
                Mode::Stable => {
                    // Wait until the line has been quiet for the interval; every edge moves
                    // the deadline.
                    let (seen, last) = loop {
                        let (seen, last) = self.last_edge();
                        let deadline = last + interval;
                        if Self::until(deadline).as_nanos() <= 0 {
                            break (seen, last);
                        }
                        Self::sleep_until(deadline);
                    };

                    (seen, u64::from(self.sample(input, last)))
                }
                Mode::Fast => {
                    // Report the first edge at once, ignore the bounce for the interval, then
                    // report the level the line settled to.
                    let first = self.edge_time(start, self.edges.load(Acquire));
                    let changed = self.sample(input, first);

                    Self::sleep_until(first + interval);

                    let (seen, last) = self.last_edge();
                    let settled = self.sample(input, last);
                    (seen, u64::from(changed) + u64::from(settled))
                }
            };

            let edges = seen.wrapping_sub(start);
            self.bounces.add(edges.saturating_sub(changes), Relaxed);
            self.consumed.store(seen, Relaxed);
        }
    }

    /// Re-reads the line after a system resume and reports a change that happened meanwhile.
    fn resync(&self, input: &Input<'_>) {
        self.sample(input, Instant::<Monotonic>::now());
    }
}

#[vtable]
impl input::Operations for Button<'_> {
    /// Reports the current debounced state to the first user of the input device.
    fn open(input: &input::Registration<'_, Self>) -> Result {
        let this = input.data();
        let state = this.state.lock();

        if state.pressed != input.is_key_pressed(this.code) {
            input
                .report()
                .timestamp(Instant::now())
                .key(this.code, state.pressed)
                .sync();
        }

        Ok(())
    }
}

type Input<'b> = input::Registration<'b, Button<'b>>;

/// The interrupt handler of a button.
#[pin_data]
struct Handler<'b> {
    input: Pin<KBox<Input<'b>>>,
}

impl ThreadedHandler for Handler<'_> {
    fn handle(&self) -> ThreadedIrqReturn {
        let now = Instant::<Monotonic>::now();
        let button = self.input.data();

        button.edge(now);
        if button.wakeup {
            // Keep the system awake until the edge has been debounced and reported.
            button
                .gpio
                .device()
                .wakeup_event(button.debounce_ms.load(Relaxed) + 100);
        }

        ThreadedIrqReturn::WakeThread
    }

    fn handle_threaded(&self) -> IrqReturn {
        self.input.data().debounce(&self.input);
        IrqReturn::Handled
    }
}

/// The driver data of a bound button.
///
/// Dropped on unbind, in field order: the interrupt is freed first (which waits for its handlers
/// and stops its thread), then the input device is unregistered; the line is released by devres
/// afterwards.
struct ButtonData<'b> {
    irq: Pin<KBox<ThreadedRegistration<'b, Handler<'b>>>>,
    _phys_id: PhysId,
}

impl ButtonData<'_> {
    fn handler(&self) -> &Handler<'_> {
        self.irq.handler()
    }

    fn button(&self) -> &Button<'_> {
        self.handler().input.data()
    }
}

/// The `inputN` numbers of the `phys` paths in use, one bit each.
static PHYS_IDS: Atomic<u64> = Atomic::new(0);

/// The number `N` of the `phys` path `rpibsp-button/inputN` of a button's input device, unique
/// among the bound buttons; released when dropped.
struct PhysId(u32);

impl PhysId {
    /// Allocates the lowest free number.
    fn new() -> Result<Self> {
        let mut used = PHYS_IDS.load(Relaxed);

        loop {
            let id = (!used).trailing_zeros();
            if id >= u64::BITS {
                return Err(ENOSPC);
            }

            match PHYS_IDS.cmpxchg(used, used | (1 << id), Relaxed) {
                Ok(_) => return Ok(Self(id)),
                Err(current) => used = current,
            }
        }
    }
}

impl Drop for PhysId {
    fn drop(&mut self) {
        let mut used = PHYS_IDS.load(Relaxed);

        while let Err(current) = PHYS_IDS.cmpxchg(used, used & !(1 << self.0), Relaxed) {
            used = current;
        }
    }
}

struct ButtonDriver;

kernel::of_device_table!(
    OF_TABLE,
    <ButtonDriver as platform::Driver>::IdInfo,
    [(of::DeviceId::new(c"rpibsp,gpio-button"), ())]
);

impl platform::Driver for ButtonDriver {
    type IdInfo = ();
    type Data<'bound> = ButtonData<'bound>;
    const OF_ID_TABLE: Option<of::IdTable<Self::IdInfo>> = Some(&OF_TABLE);
    const PM_OPS: Option<platform::PmOps<Self>> = Some(platform::PmOps::new());
    const DEV_GROUPS: Option<platform::AttributeGroups<Self>> =
        Some(platform::AttributeGroups::new());

    fn probe<'bound>(
        pdev: &'bound platform::Device<Core<'_>>,
        _id_info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        let dev: &'bound device::Device<Core<'_>> = pdev.as_ref();
        probe_button(dev)
    }
}

fn probe_button<'b>(dev: &'b device::Device<Bound>) -> Result<ButtonData<'b>> {
    let config = Config::parse(dev)?;

    let gpio = match Desc::get(dev, None, GpioFlags::In) {
        Ok(gpio) => gpio,
        Err(e) if e == EPROBE_DEFER => return Err(e),
        Err(e) if e == ENOENT => {
            dev_err!(dev, "gpios: missing required property\n");
            return Err(e);
        }
        Err(e) if e == EBUSY => {
            dev_err!(dev, "gpios: line already in use\n");
            return Err(e);
        }
        Err(e) => {
            dev_err!(
                dev,
                "gpios: cannot request the line (error {})\n",
                e.to_errno()
            );
            return Err(e);
        }
    };
    gpio.set_consumer_name(&config.label)?;

    let request = gpio.to_irq().inspect_err(|e| {
        dev_err!(
            dev,
            "gpios: the line cannot interrupt (error {})\n",
            e.to_errno()
        );
    })?;
    let irq_number = request.irq();

    let pressed = gpio.value_cansleep().inspect_err(|e| {
        dev_err!(
            dev,
            "gpios: cannot read the line (error {})\n",
            e.to_errno()
        );
    })?;

    let phys_id = PhysId::new()?;
    let phys = CString::try_from_fmt(fmt!("rpibsp-button/input{}", phys_id.0))?;
    let builder = input::Builder::new()?
        .name(&config.label)?
        .phys(&phys)?
        .id(Id {
            bustype: BusType::HOST,
            vendor: 0x0001,
            product: 0x0001,
            version: 0x0100,
        })
        .capability(EventType::Key, config.code)?;

    let epoch = Instant::<Monotonic>::now();
    let button = try_pin_init!(Button {
        gpio,
        code: config.code,
        mode: config.mode,
        led_action: config.led_action,
        wakeup: config.wakeup,
        debounce_ms: Atomic::new(config.debounce_ms),
        epoch,
        times: [const { Atomic::new(0) }; EDGE_TIMES],
        edges: Atomic::new(0),
        consumed: Atomic::new(0),
        presses: Atomic::new(0),
        bounces: Atomic::new(0),
        state <- new_mutex!(State { pressed }),
    }? Error);

    // SAFETY: The registration is stored in the driver data, which is dropped on unbind.
    let input = unsafe { input::Registration::new(dev, builder, button) };
    let input = KBox::pin_init(input, GFP_KERNEL).inspect_err(|e| {
        dev_err!(
            dev,
            "cannot register the input device (error {})\n",
            e.to_errno()
        );
    })?;

    // SAFETY: The registration is stored in the driver data, which is dropped on unbind.
    let irq = unsafe {
        ThreadedRegistration::new(
            request,
            irq::Flags::TRIGGER_RISING | irq::Flags::TRIGGER_FALLING,
            DRIVER_NAME,
            try_pin_init!(Handler { input }? Error),
        )
    };
    let irq = KBox::pin_init(irq, GFP_KERNEL).inspect_err(|e| {
        dev_err!(
            dev,
            "cannot request IRQ {} (error {})\n",
            irq_number,
            e.to_errno()
        );
    })?;

    if config.wakeup {
        dev.devm_init_wakeup()?;
    }

    Ok(ButtonData {
        irq,
        _phys_id: phys_id,
    })
}

#[vtable]
impl platform::SleepOps for ButtonDriver {
    fn suspend<'bound>(
        pdev: &'bound platform::Device<Core<'_>>,
        this: Pin<&ButtonData<'bound>>,
    ) -> Result {
        let dev: &device::Device<Core<'_>> = pdev.as_ref();

        if dev.may_wakeup() {
            match this.irq.enable_wake() {
                Ok(()) => return Ok(()),
                Err(e) => dev_warn!(
                    dev,
                    "cannot arm IRQ {} as wakeup source (error {}), the button will not wake the system\n",
                    this.irq.irq(),
                    e.to_errno()
                ),
            }
        }

        // Not a wakeup source: no interrupts until resume, which reports what changed meanwhile.
        this.irq.disable();
        Ok(())
    }

    fn resume<'bound>(
        _pdev: &'bound platform::Device<Core<'_>>,
        this: Pin<&ButtonData<'bound>>,
    ) -> Result {
        if this.irq.is_wake_enabled() {
            this.irq.disable_wake()?;
        } else {
            this.irq.enable();
        }

        let handler = this.handler();
        handler.input.data().resync(&handler.input);
        Ok(())
    }
}

const ATTR_EDGES: u32 = 0;
const ATTR_PRESSES: u32 = 1;
const ATTR_BOUNCES: u32 = 2;
const ATTR_DEBOUNCE: u32 = 3;

impl platform::DeviceAttributes for ButtonDriver {
    const GROUPS: &'static [Group] = &[Group::new(&[
        Attribute::ro(ATTR_EDGES, c"edge_count"),
        Attribute::ro(ATTR_PRESSES, c"press_count"),
        Attribute::ro(ATTR_BOUNCES, c"bounce_count"),
        Attribute::rw(ATTR_DEBOUNCE, c"debounce_interval_ms"),
    ])];

    fn show<'bound>(
        _pdev: &'bound platform::Device<Bound>,
        this: Pin<&ButtonData<'bound>>,
        attr: &Attribute,
        buf: &mut ShowBuffer<'_>,
    ) -> Result {
        let button = this.get_ref().button();

        match attr.id() {
            ATTR_EDGES => kernel::sysfs_emit!(buf, "{}\n", button.edges.load(Relaxed)),
            ATTR_PRESSES => kernel::sysfs_emit!(buf, "{}\n", button.presses.load(Relaxed)),
            ATTR_BOUNCES => kernel::sysfs_emit!(buf, "{}\n", button.bounces.load(Relaxed)),
            ATTR_DEBOUNCE => kernel::sysfs_emit!(buf, "{}\n", button.debounce_ms.load(Relaxed)),
            _ => Err(EINVAL),
        }
    }

    fn store<'bound>(
        _pdev: &'bound platform::Device<Bound>,
        this: Pin<&ButtonData<'bound>>,
        attr: &Attribute,
        input: &[u8],
    ) -> Result {
        if attr.id() != ATTR_DEBOUNCE {
            return Err(EIO);
        }

        let ms: u32 = sysfs::parse_int(input)?;
        if !(DEBOUNCE_MIN_MS..=DEBOUNCE_MAX_MS).contains(&ms) {
            return Err(EINVAL);
        }

        this.get_ref().button().debounce_ms.store(ms, Relaxed);
        Ok(())
    }
}

/// The module: the LED trigger and the platform driver.
#[pin_data]
struct ButtonModule {
    /// Unregistered first: unbinding the buttons stops their use of the trigger.
    #[pin]
    _driver: driver::Registration<platform::Adapter<ButtonDriver>>,
    _trigger: TriggerRegistration<'static>,
}

impl kernel::InPlaceModule for ButtonModule {
    fn init(module: &'static kernel::ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _trigger: TRIGGER.register_static()?,
            _driver <- driver::Registration::new(DRIVER_NAME, module),
        })
    }
}

module! {
    type: ButtonModule,
    name: "rpibsp_button",
    authors: ["Rpi BSP Developers <bsp@rpibsp.invalid>"],
    description: "rpibsp GPIO push-button: debounced input events, LED trigger, wakeup",
    license: "GPL",
}
