// SPDX-License-Identifier: GPL-2.0

//! Smoke-test platform driver for the emulated board.
//!
//! The smallest Rust platform driver that binds through a device-tree node
//! (`compatible = "rpibsp,smoke"`, added by `smoke.dts`) and reads one property. The boot test
//! loads it and checks that it probed; built with `RPIBSP_SMOKE_BROKEN=1` its probe fails, which
//! the boot test must report as a failure.

use kernel::{of, platform, prelude::*};

struct SmokeDriver;

kernel::of_device_table!(
    OF_TABLE,
    <SmokeDriver as platform::Driver>::IdInfo,
    [(of::DeviceId::new(c"rpibsp,smoke"), ())]
);

impl platform::Driver for SmokeDriver {
    type IdInfo = ();
    type Data<'bound> = Self;
    const OF_ID_TABLE: Option<of::IdTable<Self::IdInfo>> = Some(&OF_TABLE);

    fn probe<'bound>(
        pdev: &'bound platform::Device<kernel::device::Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self, Error> + 'bound {
        let dev = pdev.as_ref();
        let fwnode = dev.fwnode().ok_or(ENOENT)?;
        let magic: u32 = fwnode.property_read(c"rpibsp,magic").required_by(dev)?;

        if cfg!(rpibsp_smoke_broken) {
            dev_err!(dev, "deliberately broken build: failing probe\n");
            return Err(EIO);
        }

        dev_info!(dev, "rpibsp smoke driver probed (rpibsp,magic = {:#x})\n", magic);
        Ok(SmokeDriver)
    }
}

kernel::module_platform_driver! {
    type: SmokeDriver,
    name: "rpibsp_smoke",
    authors: ["Rpi BSP Developers"],
    description: "Smoke-test platform driver of the Raspberry Pi BSP",
    license: "GPL v2",
}
