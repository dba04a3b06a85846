#!/usr/bin/python3
"""A libtorrent-rasterbar peer for the interop tests (Debian python3-libtorrent).

ltpeer.py seed|get --listen IP:PORT (--torrent FILE | --magnet URI) --save DIR [--peer IP:PORT]... [--utp] [--encrypt]
ltpeer.py make --format v1|hybrid|v2 --piece-length N --src PATH --torrent FILE

seed: checks the data under DIR, prints READY once seeding, runs until SIGTERM.
get:  dials every --peer, exits 0 once every piece is downloaded and verified.
make: writes a torrent of PATH made by libtorrent, prints its magnet URI.
Status lines end with uploaded=N, the payload bytes sent so far.
DHT, LSD, UPnP, NAT-PMP, uTP and PEX are off; only ut_metadata is loaded.
--utp keeps libtorrent's default uTP settings (incoming and outgoing on: a
new peer is dialled over uTP first, TCP after a uTP failure) and prints
its connect/disconnect alerts and FIRST_BYTES t=SECONDS since_utp=SECONDS
transport=tcp|utp|none: the first payload byte's time since the first
connect_peer call and since the first uTP connection attempt (-1 if none),
and the transport of the live connection then.
--encrypt forces protocol encryption (MSE, RC4) on incoming and outgoing
connections.
"""
import os
import argparse
import signal
import sys
import time

import libtorrent as lt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["seed", "get", "make"])
    ap.add_argument("--listen")
    ap.add_argument("--torrent")
    ap.add_argument("--magnet")
    ap.add_argument("--save")
    ap.add_argument("--peer", action="append", default=[])
    ap.add_argument("--format", default="hybrid")
    ap.add_argument("--piece-length", type=int, default=0)
    ap.add_argument("--src")
    ap.add_argument("--utp", action="store_true")
    ap.add_argument("--encrypt", action="store_true")  # MSE with RC4 only, both ways
    a = ap.parse_args()
    if a.mode == "make":
        return make(a)
    ip, port = a.listen.rsplit(":", 1)

    settings = {
        "listen_interfaces": a.listen,
        "outgoing_interfaces": ip,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": a.utp,
        "enable_outgoing_utp": a.utp,
        "enable_incoming_tcp": True,
        "enable_outgoing_tcp": True,
        "allow_multiple_connections_per_ip": True,
        "announce_to_all_trackers": False,
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification
        | (lt.alert.category_t.connect_notification if a.utp else 0),
    }
    if a.encrypt:
        settings["out_enc_policy"] = int(lt.enc_policy.pe_forced)
        settings["in_enc_policy"] = int(lt.enc_policy.pe_forced)
        settings["allowed_enc_level"] = int(lt.enc_level.pe_rc4)
    ses = lt.session(settings, flags=0)  # no default plugins: no PEX
    ses.add_extension("ut_metadata")
    ses.add_extension("smart_ban")

    if a.magnet:
        p = lt.parse_magnet_uri(a.magnet)
    else:
        p = lt.add_torrent_params()
        p.ti = lt.torrent_info(a.torrent)
    p.save_path = a.save
    h = ses.add_torrent(p)

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    ready = False
    last = 0.0
    dialled = 0.0
    first_dial = 0.0
    got_bytes = False
    transport = "none"  # of the live connection, from the alerts
    first_utp = 0.0
    while not stop:
        s = h.status()
        now = time.time()
        if a.peer and now - dialled > 5:
            if not first_dial:
                first_dial = now
            for peer in a.peer:
                pip, pport = peer.rsplit(":", 1)
                h.connect_peer((pip, int(pport)))
            dialled = now
        if now - last > 1:
            print("state=%s progress=%.3f peers=%d down=%d up=%d uploaded=%d"
                  % (s.state, s.progress, s.num_peers, s.download_rate, s.upload_rate,
                     s.total_payload_upload), flush=True)
            last = now
        for al in ses.pop_alerts():
            if a.utp and isinstance(al, (lt.peer_connect_alert, lt.peer_disconnected_alert)):
                msg = al.message()
                print("ALERT t=%.3f %s" % (now - first_dial, msg), flush=True)
                # The bindings have no socket type on a connect alert, nor
                # a uTP flag in peer_info: the message names it.
                kind = "utp" if "(uTP)" in msg else "tcp" if "(TCP)" in msg else ""
                if isinstance(al, lt.peer_connect_alert):
                    transport = kind
                    if kind == "utp" and not first_utp:
                        first_utp = now
                elif kind == transport:
                    transport = "none"
            elif al.category() & lt.alert.category_t.error_notification:
                print("alert:", al.message(), file=sys.stderr, flush=True)
        # after the alerts: a connect alert posted before s was read is seen
        if a.utp and first_dial and not got_bytes and s.total_payload_download > 0:
            got_bytes = True
            print("FIRST_BYTES t=%.3f since_utp=%.3f transport=%s"
                  % (now - first_dial, now - first_utp if first_utp else -1, transport), flush=True)
        if s.is_seeding and s.state == lt.torrent_status.seeding and s.has_metadata:
            if a.mode == "get":
                print("DONE", flush=True)
                return 0
            if not ready:
                print("READY", flush=True)
                ready = True
        time.sleep(0.01 if a.utp and not got_bytes else 0.1)
    return 0


def make(a):
    flags = {"v1": lt.create_torrent.v1_only, "hybrid": 0, "v2": lt.create_torrent.v2_only}[a.format]
    fs = lt.file_storage()
    lt.add_files(fs, a.src)
    t = lt.create_torrent(fs, a.piece_length, flags=flags)
    lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(a.src)))
    with open(a.torrent, "wb") as f:
        f.write(lt.bencode(t.generate()))
    print(lt.make_magnet_uri(lt.torrent_info(a.torrent)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
