"""`campus-edge doctor`: what is wrong with this kiosk, and what to do, in plain words.

Each check gives ok, warn or fail with a sentence in Chinese and in English that says
what to fix. It reads, never writes: the database is opened read-only, the running
service is asked over HTTP (/healthz) about its readers, the hub is greeted with the
device token. Exit status 1 when anything fails.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from edge.clock import clock_synchronized
from edge.devices.registry import ReaderUnavailable, parse_binding
from edge.settings import Settings
from edge.store import probe

OK, WARN, FAIL = "ok", "warn", "fail"
MARK = {OK: "✔", WARN: "⚠", FAIL: "✖"}


@dataclass(frozen=True)
class Check:
    """One finding: what was checked, how it stands, and what to do (zh, en)."""

    name: str
    status: str
    zh: str
    en: str

    def line(self, lang: str) -> str:
        """Return the line doctor prints."""
        return f"{MARK[self.status]} {self.name}: {self.zh if lang == 'zh' else self.en}"


def run(settings: Settings, timeout: float = 5.0) -> list[Check]:
    """Run every check and return the findings in a fixed order."""
    health = _service_health(settings, timeout)
    return [
        _database(settings),
        _disk(settings),
        _clock(settings),
        _service(settings, health),
        *_readers(settings, health),
        _upstream(settings, timeout),
    ]


def _database(settings: Settings) -> Check:
    path = settings.database
    if not path.exists():
        return Check(
            "database",
            WARN,
            f"{path} 还不存在：导入名单（campus-edge roster import）或连接中心后会自动创建",
            f"{path} does not exist yet: it is created by a roster import or the "
            "first sync with the hub",
        )
    found = probe.check_file(path)
    result, roster, events = found.result, found.roster_version, found.events
    if result != "ok":
        return Check(
            "database",
            FAIL,
            f"数据库已损坏（{result}）：停止服务，按 README“备份与恢复”恢复最近的备份",
            f"the database is damaged ({result}): stop the service and restore the "
            "last backup (README, Backup and restore)",
        )
    if roster == 0:
        return Check(
            "database",
            WARN,
            "数据库完好，但还没有名单：导入名单，或用 --upstream 从中心同步",
            "the database is sound but holds no roster: import one, or sync it from "
            "the hub with --upstream",
        )
    return Check(
        "database",
        OK,
        f"完好，名单第 {roster} 版，{events} 条记录",
        f"sound; roster version {roster}, {events} events",
    )


def _disk(settings: Settings) -> Check:
    where = Path(settings.data_dir)
    while not where.exists() and where != where.parent:
        where = where.parent
    usage = shutil.disk_usage(where)
    free_mb = usage.free // (1024 * 1024)
    if free_mb < settings.min_free_mb:
        return Check(
            "disk",
            FAIL,
            f"存储卡只剩 {free_mb} MB：删除旧备份（{settings.data_dir}）或换更大的卡，"
            "否则刷卡将无法保存",
            f"only {free_mb} MB free on the SD card: remove old backups or use a "
            "larger card, or taps will stop being saved",
        )
    if free_mb < 2 * settings.min_free_mb:
        return Check(
            "disk",
            WARN,
            f"存储卡只剩 {free_mb} MB，请尽快清理",
            f"{free_mb} MB free on the SD card: clear space soon",
        )
    return Check("disk", OK, f"剩余 {free_mb} MB", f"{free_mb} MB free")


def _clock(settings: Settings) -> Check:
    trusted = settings.clock_trusted
    if trusted is None:
        trusted = clock_synchronized()
    if trusted:
        return Check("clock", OK, "时钟已同步", "the clock is synchronized")
    return Check(
        "clock",
        WARN,
        "时钟未同步（没有网络时间）：刷卡会被标记，连上中心后按中心时间校正；"
        "检查网络，或运行 timedatectl 查看",
        "the clock is not synchronized (no network time yet): taps are marked and "
        "corrected by the hub once it is reached; check the network, or run "
        "timedatectl",
    )


def _service_health(settings: Settings, timeout: float) -> dict[str, Any] | None:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104
    try:
        reply = httpx.get(f"http://{host}:{settings.port}/healthz", timeout=timeout)
        health = dict(reply.json())
        if reply.status_code == 200 or health.get("status") == "writer_dead":
            return health
        return None
    except (httpx.HTTPError, ValueError):
        return None


def _service(settings: Settings, health: dict[str, Any] | None) -> Check:
    if health is None:
        return Check(
            "service",
            WARN,
            f"服务没有在端口 {settings.port} 运行：sudo systemctl start campus-edge，"
            "再看 journalctl -u campus-edge",
            f"the service is not running on port {settings.port}: sudo systemctl "
            "start campus-edge, then look at journalctl -u campus-edge",
        )
    if health.get("status") == "writer_dead":
        return Check(
            "service",
            FAIL,
            "写入程序已停止，刷卡没有被记录：systemd 会在 30 秒内自动重启服务；否则运行 sudo "
            "systemctl restart campus-edge，再看 journalctl -u campus-edge"
            f"（{health.get('detail')}）",
            "the tap writer has stopped and taps are not recorded: systemd restarts the service "
            "within 30 s; if it does not, run sudo systemctl restart campus-edge and look at "
            f"journalctl -u campus-edge ({health.get('detail')})",
        )
    return Check(
        "service",
        OK,
        f"正在运行（{health.get('role')} {health.get('node_id')}）",
        f"running ({health.get('role')} {health.get('node_id')})",
    )


_HINT = {
    "nfc": (
        "检查 USB 线；读卡器灯是否亮；pn533 内核模块是否已屏蔽（README 硬件）",
        "check the USB cable and the reader's light, and that the pn533 kernel module "
        "is blacklisted (README, Hardware)",
    ),
    "serial": (
        "检查串口线，以及 campus-edge 用户是否在 dialout 组",
        "check the serial cable, and that user campus-edge is in group dialout",
    ),
    "hid": (
        "检查读卡器是否插好，以及 campus-edge 用户是否在 input 组",
        "check the reader is plugged in, and that user campus-edge is in group input",
    ),
}


def _readers(settings: Settings, health: dict[str, Any] | None) -> list[Check]:
    checks = []
    if health is not None:
        for station, reader in sorted((health.get("readers") or {}).items()):
            spec = str(reader.get("spec", ""))
            if reader.get("connected"):
                checks.append(
                    Check(
                        f"reader {station}",
                        OK,
                        f"{spec} 在线，已读 {reader.get('reads', 0)} 次",
                        f"{spec} connected, {reader.get('reads', 0)} reads",
                    )
                )
                continue
            zh, en = _HINT.get(spec.split(":")[0], ("检查读卡器", "check the reader"))
            error = reader.get("last_error") or "not connected"
            checks.append(
                Check(
                    f"reader {station}",
                    FAIL,
                    f"{spec} 离线（{error}）：{zh}",
                    f"{spec} is offline ({error}): {en}",
                )
            )
        return checks
    for text in settings.readers:  # the service is down: look at the device files
        try:
            station, spec = parse_binding(text)
        except ReaderUnavailable as err:
            checks.append(Check("reader", FAIL, f"设置有误：{err}", f"a wrong setting: {err}"))
            continue
        kind, _, rest = spec.partition(":")
        path = rest.split(":")[0] if kind in ("serial", "hid") else None
        if path is None:
            checks.append(
                Check(
                    f"reader {station}",
                    WARN,
                    f"{spec}：服务未运行，无法检查 NFC 读卡器",
                    f"{spec}: the service is not running, so the NFC reader cannot be asked",
                )
            )
        elif not os.path.exists(path):
            zh, en = _HINT[kind]
            checks.append(
                Check(
                    f"reader {station}", FAIL, f"找不到 {path}：{zh}", f"{path} is not there: {en}"
                )
            )
        elif not os.access(path, os.R_OK | os.W_OK):
            zh, en = _HINT[kind]
            checks.append(
                Check(
                    f"reader {station}",
                    FAIL,
                    f"{path} 没有读写权限：{zh}",
                    f"{path} cannot be opened for reading and writing: {en}",
                )
            )
        else:
            checks.append(Check(f"reader {station}", OK, f"{path} 已找到", f"{path} is there"))
    return checks


def _upstream(settings: Settings, timeout: float) -> Check:
    if not settings.upstream:
        return Check(
            "upstream", OK, "未设置中心，本机独立运行", "no upstream set: this node runs alone"
        )
    url = settings.upstream.rstrip("/")
    try:
        from edge.sync.client import ask_hello  # httpx: only when asked

        reply = ask_hello(settings, timeout)
    except httpx.HTTPError:
        return Check(
            "upstream",
            FAIL,
            f"连不上中心 {url}：检查网线或 Wi-Fi，以及中心是否开机",
            f"the hub at {url} cannot be reached: check the network cable or Wi-Fi, "
            "and that the hub is on",
        )
    if reply.status_code == 401:
        return Check(
            "upstream",
            FAIL,
            "中心拒绝了本机的设备令牌：请中心管理员重新生成（campus-edge device add 名称），"
            "写入 settings.toml 的 device_token",
            "the hub refused this kiosk's device token: ask the hub's admin for a new "
            "one (campus-edge device add NAME) and put it in settings.toml as "
            "device_token",
        )
    if reply.status_code != 200:
        return Check(
            "upstream",
            FAIL,
            f"中心答复 {reply.status_code}",
            f"the hub answered {reply.status_code}",
        )
    device = reply.json().get("device")
    stored = probe.stored_node_id(settings.database)
    if stored is not None and device != stored:
        return Check(
            "upstream",
            FAIL,
            f"本机编号是 {stored}，令牌却属于 {device}：换用 {stored} 的令牌",
            f"this kiosk is '{stored}' but the token belongs to '{device}': use "
            f"the token registered for {stored}",
        )
    return Check(
        "upstream",
        OK,
        f"中心 {url} 可达，本机登记为 {device}",
        f"the hub at {url} answers; this kiosk is registered as {device}",
    )
