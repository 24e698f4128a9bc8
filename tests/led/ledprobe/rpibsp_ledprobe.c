// SPDX-License-Identifier: GPL-2.0
/*
 * Test helper of tests/led: samples the level of the LED's BCM2835 GPIO while the system is
 * suspended and when it restarts, where user space cannot look.
 *
 * Suspend: the module registers a platform device with a .suspend callback. A device registered
 * before the LED driver binds comes before the LED class device in the PM core's list, and the
 * PM core suspends the list from its end, so the callback runs after the LED class device was
 * suspended and sees the level the LED core left. The level is kept in the read-only parameter
 * suspend_level (-1 until a suspend happened) and logged.
 *
 * Restart: a restart handler with a higher priority than the watchdog's logs the level after
 * device_shutdown() ran the drivers' shutdown callbacks, at KERN_EMERG so that it reaches the
 * console of a test that silenced the kernel log:
 *   rpibsp-ledprobe: restart: GPIO 4 level N
 *
 * Reads GPLEV0/1 of the BCM2835 GPIO block (raspi3b: 0x3f200000). Not for production use.
 */
#include <linux/io.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/platform_device.h>
#include <linux/pm.h>
#include <linux/reboot.h>

#define BCM2835_GPLEV0 0x34

static unsigned long gpio_base = 0x3f200000;
module_param(gpio_base, ulong, 0444);
MODULE_PARM_DESC(gpio_base, "physical address of the BCM2835 GPIO block (raspi3b: 0x3f200000)");

static unsigned int pin = 4;
module_param(pin, uint, 0444);
MODULE_PARM_DESC(pin, "BCM GPIO number of the LED (0-53)");

static int suspend_level = -1;
module_param(suspend_level, int, 0444);
MODULE_PARM_DESC(suspend_level, "level of the pin during the last suspend, -1 before");

static unsigned int suspend_count;
module_param(suspend_count, uint, 0444);
MODULE_PARM_DESC(suspend_count, "number of suspends seen");

static void __iomem *gpio;
static struct platform_device *probe_pdev;

static int ledprobe_level(void)
{
	return (readl(gpio + BCM2835_GPLEV0 + 4 * (pin / 32)) >> (pin % 32)) & 1;
}

static int ledprobe_suspend(struct device *dev)
{
	suspend_level = ledprobe_level();
	suspend_count++;
	dev_info(dev, "suspend: GPIO %u level %d\n", pin, suspend_level);
	return 0;
}

static int ledprobe_resume(struct device *dev)
{
	return 0;
}

static DEFINE_SIMPLE_DEV_PM_OPS(ledprobe_pm_ops, ledprobe_suspend, ledprobe_resume);

static struct platform_driver ledprobe_driver = {
	.driver = {
		.name = "rpibsp-ledprobe",
		.pm = pm_sleep_ptr(&ledprobe_pm_ops),
	},
};

static int ledprobe_restart(struct notifier_block *nb, unsigned long mode, void *cmd)
{
	pr_emerg("rpibsp-ledprobe: restart: GPIO %u level %d\n", pin, ledprobe_level());
	return NOTIFY_DONE;
}

static struct notifier_block ledprobe_restart_nb = {
	.notifier_call = ledprobe_restart,
	.priority = 255,
};

static int __init ledprobe_init(void)
{
	int ret;

	if (pin > 53)
		return -EINVAL;

	gpio = ioremap(gpio_base, 0xb4);
	if (!gpio)
		return -ENOMEM;

	ret = platform_driver_register(&ledprobe_driver);
	if (ret)
		goto err_unmap;

	probe_pdev = platform_device_register_simple("rpibsp-ledprobe", -1, NULL, 0);
	if (IS_ERR(probe_pdev)) {
		ret = PTR_ERR(probe_pdev);
		goto err_driver;
	}

	ret = register_restart_handler(&ledprobe_restart_nb);
	if (ret)
		goto err_device;

	pr_info("rpibsp-ledprobe: watching GPIO %u (level %d)\n", pin, ledprobe_level());
	return 0;

err_device:
	platform_device_unregister(probe_pdev);
err_driver:
	platform_driver_unregister(&ledprobe_driver);
err_unmap:
	iounmap(gpio);
	return ret;
}
module_init(ledprobe_init);

static void __exit ledprobe_exit(void)
{
	unregister_restart_handler(&ledprobe_restart_nb);
	platform_device_unregister(probe_pdev);
	platform_driver_unregister(&ledprobe_driver);
	iounmap(gpio);
}
module_exit(ledprobe_exit);

MODULE_DESCRIPTION("rpibsp LED test helper: GPIO level while suspended and at restart");
MODULE_LICENSE("GPL");
