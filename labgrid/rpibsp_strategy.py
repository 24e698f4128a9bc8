"""RpiBspStrategy: brings a Raspberry Pi running the BSP's SD-card image to a logged-in shell.

One strategy for every way this project reaches a board, so the same environment-file drivers
work on each (imported by the environment files with `imports:`):

- the emulated board: QEMUDriver is both the power and the console;
- a real board on the bench: SerialDriver on a USBSerialPort or an RFC 2217 NetworkSerialPort,
  a power driver (NetworkPowerDriver, ExternalPowerDriver, ManualPowerDriver, ...) and, when an
  SD mux is there, USBSDMuxDriver + USBStorageDriver to write the card before power-on;
- a board in a lab: the same drivers on the resources of a RemotePlace.

States:
  off    power off (and the console driver deactivated);
  shell  (re)written card if an SD mux is bound and `image` is set, power on, login on the console.

Without a power driver the board is taken as already running: "shell" only logs in (an
always-on board, or one powered by hand).
"""

import enum

import attr

from labgrid.driver.usbstoragedriver import Mode
from labgrid.factory import target_factory
from labgrid.step import step
from labgrid.strategy import Strategy, StrategyError
from labgrid.strategy.common import never_retry


class Status(enum.Enum):
    unknown = 0
    off = 1
    shell = 2


@attr.s(eq=False)
class RpiBspStrategy(Strategy):
    """Strategy to a logged-in shell on the BSP image (emulated or real Raspberry Pi).

    Args:
        image (str): optional, key in the `images:` section of the SD-card image; written to the
            card through the SD mux before power-on when an SD mux and storage driver are bound
        bmap (bool): write with bmaptool (uses IMAGE.bmap when it exists; default) or dd
        settle (float): seconds to wait after switching the SD mux before using it
    """

    bindings = {
        "power": {"PowerProtocol", None},
        "console": "ConsoleProtocol",
        "shell": "ShellDriver",
        "sdmux": {"USBSDMuxDriver", None},
        "storage": {"USBStorageDriver", None},
    }

    image = attr.ib(default=None, validator=attr.validators.optional(attr.validators.instance_of(str)))
    bmap = attr.ib(default=True, validator=attr.validators.instance_of(bool))
    status = attr.ib(default=Status.unknown)

    def __attrs_post_init__(self):
        super().__attrs_post_init__()
        if (self.sdmux is None) != (self.storage is None):
            raise StrategyError("RpiBspStrategy needs both USBSDMuxDriver and USBStorageDriver, or neither")

    def _write_card(self):
        if self.sdmux is None or self.image is None:
            return
        self.target.activate(self.sdmux)
        self.sdmux.set_mode("host")
        self.target.activate(self.storage)
        path = self.target.env.config.get_image_path(self.image)
        self.storage.write_image(path, mode=Mode.BMAPTOOL if self.bmap else Mode.DD)
        self.target.deactivate(self.storage)
        self.sdmux.set_mode("dut")

    @never_retry
    @step(args=["status"])
    def transition(self, status, *, step):  # pylint: disable=redefined-outer-name
        if not isinstance(status, Status):
            status = Status[status]
        if status == Status.unknown:
            raise StrategyError(f"can not transition to {status}")
        if status == self.status:
            step.skip("nothing to do")
            return
        if status == Status.off:
            self.target.deactivate(self.shell)
            if self.power is not None:
                self.target.activate(self.power)
                self.power.off()
        elif status == Status.shell:
            if self.power is not None:
                self.transition(Status.off)
                self._write_card()
                # The console first, so the boot is on record (labgrid's console log).
                self.target.activate(self.console)
                self.power.on()
            else:
                self.target.activate(self.console)
            self.target.activate(self.shell)  # waits for the login prompt and logs in
        else:
            raise StrategyError(f"no transition found from {self.status} to {status}")
        self.status = status

    @never_retry
    @step(args=["status"])
    def force(self, status, *, step):  # pylint: disable=redefined-outer-name
        if not isinstance(status, Status):
            status = Status[status]
        if status == Status.off:
            if self.power is not None:
                self.target.activate(self.power)
        elif status == Status.shell:
            if self.power is not None:
                self.target.activate(self.power)
            self.target.activate(self.shell)
        else:
            raise StrategyError(f"can not force state {status}")
        self.status = status


# Environment files import this file by path, so it can be loaded more than once in a process
# (two environments); labgrid refuses a second registration of the same name.
if "RpiBspStrategy" not in target_factory.all_classes:
    target_factory.reg_driver(RpiBspStrategy)
