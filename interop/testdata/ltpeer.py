#!/usr/bin/python3
"""A libtorrent-rasterbar peer for the interop tests (Debian python3-libtorrent).

ltpeer.py seed|get --listen IP:PORT --torrent FILE --save DIR [--peer IP:PORT]...

seed: checks the data under DIR, prints READY once seeding, runs until SIGTERM.
get:  dials every --peer, exits 0 once every piece is downloaded and verified.
DHT, LSD, UPnP, NAT-PMP, uTP and PEX are off; only ut_metadata is loaded.
"""
import argparse
import signal
import sys
import time

import libtorrent as lt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["seed", "get"])
    ap.add_argument("--listen", required=True)
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--save", required=True)
    ap.add_argument("--peer", action="append", default=[])
    a = ap.parse_args()
    ip, port = a.listen.rsplit(":", 1)

    settings = {
        "listen_interfaces": a.listen,
        "outgoing_interfaces": ip,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_tcp": True,
        "enable_outgoing_tcp": True,
        "allow_multiple_connections_per_ip": True,
        "announce_to_all_trackers": False,
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
    }
    ses = lt.session(settings, flags=0)  # no default plugins: no PEX
    ses.add_extension("ut_metadata")
    ses.add_extension("smart_ban")

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
    while not stop:
        s = h.status()
        now = time.time()
        if a.peer and now - dialled > 5:
            for peer in a.peer:
                pip, pport = peer.rsplit(":", 1)
                h.connect_peer((pip, int(pport)))
            dialled = now
        if now - last > 1:
            print("state=%s progress=%.3f peers=%d down=%d up=%d"
                  % (s.state, s.progress, s.num_peers, s.download_rate, s.upload_rate), flush=True)
            last = now
        for al in ses.pop_alerts():
            if al.category() & lt.alert.category_t.error_notification:
                print("alert:", al.message(), file=sys.stderr, flush=True)
        if s.is_seeding and s.state == lt.torrent_status.seeding:
            if a.mode == "get":
                print("DONE", flush=True)
                return 0
            if not ready:
                print("READY", flush=True)
                ready = True
        time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
