#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The scenario of t-vm.sh (vm-scenario.sh) in the namespace lab, where the
# guests run wireguard-go: both backends are held to one behaviour.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
command -v wireguard-go >/dev/null || skip "no wireguard-go"
SCEN_UP_ARGS=
SCEN_BACKEND=userspace
source "$(dirname "$0")/vm-scenario.sh"
