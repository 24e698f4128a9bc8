//! The three platform drivers are registered and bound to the overlay's devices.

use crate::board;
use crate::names::*;
use crate::sysfs;
use crate::Ctx;

/// Runs the driver checks.
pub fn run(ctx: &mut Ctx<'_>) {
    let index = board::load_tree(ctx.roots()).ok();
    for (driver, compat, want) in [
        (DRIVER_BUTTON, COMPAT_BUTTON, 2usize),
        (DRIVER_LED, COMPAT_LED, 1),
        (DRIVER_DEVICEMODEL, COMPAT_DEVICEMODEL, 1),
    ] {
        let module = sysfs::module_name(driver);
        let binding = sysfs::platform_driver(ctx.roots(), driver);
        let drv_dir = ctx.roots().sys.join("bus/platform/drivers").join(driver);
        if !binding.registered {
            let why = if sysfs::module_loaded(ctx.roots(), &module) {
                format!(
                    "module {module} is loaded but registered no platform driver {driver:?} \
                     ({} is missing)",
                    drv_dir.display()
                )
            } else {
                format!(
                    "platform driver {driver:?} is not registered and module {module} is not loaded: \
                     run `modprobe {module}` (or insmod {module}.ko) and check dmesg"
                )
            };
            ctx.fail(format!("driver {driver} registered"), why);
            continue;
        }
        ctx.pass(
            format!("driver {driver} registered"),
            drv_dir.display().to_string(),
        );

        let nodes: Vec<_> = index
            .as_ref()
            .map(|i| i.compatible(compat).into_iter().cloned().collect())
            .unwrap_or_default();
        for node in &nodes {
            let name = format!("{} bound to {driver}", node.path);
            let (dev, bound) = board::binding_of(ctx.roots(), node);
            let result = match (&dev, &bound) {
                (None, _) => Err(format!(
                    "no platform device has of_node -> {}: the node was not populated (overlay \
                     applied after boot, or `status` not okay)",
                    node.path
                )),
                (Some(d), Some(b)) if b == driver => Ok(d.display().to_string()),
                (Some(d), Some(b)) => Err(format!(
                    "{} is bound to driver {b:?}, not {driver:?} (compatible clash?)",
                    d.display()
                )),
                (Some(d), None) => {
                    let dev_name = d
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let deferred = sysfs::deferred_reason(ctx.roots(), &dev_name)
                        .map(|r| format!("; devices_deferred says: {r}"))
                        .unwrap_or_default();
                    Err(format!(
                        "platform device {} exists but no driver is bound: probe of {driver} failed \
                         or was deferred (see `dmesg | grep -i rpibsp`){deferred}",
                        d.display()
                    ))
                }
            };
            ctx.check(name, result);
        }

        let listed: Vec<String> = binding
            .devices
            .iter()
            .map(|d| {
                d.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect();
        let result = if binding.devices.len() == want {
            Ok(listed.join(", "))
        } else {
            Err(format!(
                "{} lists {} bound device(s) ({}), expected {want}",
                drv_dir.display(),
                binding.devices.len(),
                if listed.is_empty() {
                    "none".to_string()
                } else {
                    listed.join(", ")
                }
            ))
        };
        ctx.check(format!("{driver} has {want} device(s) bound"), result);
    }
}
