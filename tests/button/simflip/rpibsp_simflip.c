// SPDX-License-Identifier: GPL-2.0
/*
 * Test helper of tests/button: changes a gpio-sim line while the system is suspended.
 *
 * User space is frozen during a system suspend, so a test script cannot press a simulated button
 * "while suspended". This module does it for the script: once armed (the "line" parameter set to
 * a line of the gpio-sim chip labelled "chip", "pull" to "up" or "down"), it changes the pull of
 * the line delay_ms after the next PM_SUSPEND_PREPARE, from an unbound (not freezable) workqueue,
 * the way the gpio-sim sysfs "pull" attribute does (the pull drives the level of an input), and
 * logs when. With pm_test=devices the devices stay suspended for 5 s, so a delay of about 1 s lands
 * while the button driver is suspended. Not for production use.
 */
#include <linux/gpio/consumer.h>
#include <linux/gpio/driver.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/pinctrl/pinconf-generic.h>
#include <linux/string.h>
#include <linux/suspend.h>
#include <linux/workqueue.h>

static char chip[64] = "rpibsp-sim";
module_param_string(chip, chip, sizeof(chip), 0644);
MODULE_PARM_DESC(chip, "label of the gpio-sim bank");

static int line = -1;
module_param(line, int, 0644);
MODULE_PARM_DESC(line, "line to change while suspended (-1: disarmed)");

static char pull[8] = "down";
module_param_string(pull, pull, sizeof(pull), 0644);
MODULE_PARM_DESC(pull, "new pull of the line: up or down");

static unsigned int delay_ms = 1000;
module_param(delay_ms, uint, 0644);
MODULE_PARM_DESC(delay_ms, "delay after PM_SUSPEND_PREPARE");

static int written;
module_param(written, int, 0444);
MODULE_PARM_DESC(written, "1 once the line was changed while suspending, -errno on failure");

static bool suspending;

static void simflip_work_fn(struct work_struct *work)
{
	struct gpio_device *gdev;
	struct gpio_desc *desc;
	enum pin_config_param param;
	int ret;

	param = sysfs_streq(pull, "up") ? PIN_CONFIG_BIAS_PULL_UP : PIN_CONFIG_BIAS_PULL_DOWN;
	gdev = gpio_device_find_by_label(strim(chip));
	if (!gdev) {
		ret = -ENODEV;
		goto out;
	}
	desc = gpio_device_get_desc(gdev, line);
	ret = IS_ERR(desc) ? PTR_ERR(desc) : gpiod_set_config(desc, pinconf_to_config_packed(param, 0));
	gpio_device_put(gdev);
out:
	written = ret ?: (suspending ? 1 : -EINPROGRESS);
	pr_info("rpibsp_simflip: pull-%s on %s line %d while %s (%d)\n", strim(pull), chip, line,
		suspending ? "suspended" : "running", written);
	line = -1;
}

static DECLARE_DELAYED_WORK(simflip_work, simflip_work_fn);

static int simflip_pm_notify(struct notifier_block *nb, unsigned long action, void *data)
{
	switch (action) {
	case PM_SUSPEND_PREPARE:
		suspending = true;
		written = 0;
		if (line >= 0)
			queue_delayed_work(system_unbound_wq, &simflip_work,
					   msecs_to_jiffies(delay_ms));
		break;
	case PM_POST_SUSPEND:
		suspending = false;
		break;
	}
	return NOTIFY_DONE;
}

static struct notifier_block simflip_nb = {
	.notifier_call = simflip_pm_notify,
};

static int __init simflip_init(void)
{
	return register_pm_notifier(&simflip_nb);
}

static void __exit simflip_exit(void)
{
	unregister_pm_notifier(&simflip_nb);
	cancel_delayed_work_sync(&simflip_work);
}

module_init(simflip_init);
module_exit(simflip_exit);
MODULE_DESCRIPTION("rpibsp button test helper: gpio-sim change during suspend");
MODULE_LICENSE("GPL");
