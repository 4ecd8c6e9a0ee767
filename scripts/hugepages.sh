#!/usr/bin/env bash
# Reserve, mount, show and clear hugepages, like DPDK's dpdk-hugepages.py.
#
#   scripts/hugepages.sh --setup 512M       reserve 512 MiB of hugepages and mount hugetlbfs
#   scripts/hugepages.sh --show             pages per size and NUMA node, and the mounts
#   scripts/hugepages.sh --clear            give every reserved page back to the kernel
#
# Reserving, mounting and clearing need root.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: hugepages.sh [options]

  -s, --show             show hugepages per size and NUMA node, and hugetlbfs mounts
  -r, --reserve SIZE     make the hugepage pool SIZE of memory (e.g. 512M, 2G),
                         as dpdk-hugepages.py does
  -m, --mount            mount hugetlbfs at the directory (if not mounted yet)
  -u, --unmount          unmount every hugetlbfs mount
  -c, --clear            release all reserved pages (after removing rpdk's stale files)
      --setup SIZE       short for --mount --reserve SIZE
  -p, --pagesize SIZE    page size to use (default: the kernel's, usually 2M)
  -n, --node N           reserve on NUMA node N only (default: spread by the kernel)
  -d, --directory DIR    mount point (default: /dev/hugepages)
  -h, --help             this help
EOF
}

to_kb() {
    local v=${1^^}
    local n=${v%[KMG]}
    [[ $n =~ ^[0-9]+$ ]] || { echo "hugepages.sh: invalid size '$1'" >&2; exit 2; }
    case $v in
        *K) echo "$n" ;;
        *M) echo $((n * 1024)) ;;
        *G) echo $((n * 1024 * 1024)) ;;
        *) echo $((n / 1024)) ;;
    esac
}

default_pagesize_kb() {
    awk '/^Hugepagesize:/ {print $2}' /proc/meminfo
}

need_root() {
    if [[ $(id -u) -ne 0 ]]; then
        echo "hugepages.sh: $1 needs root" >&2
        exit 1
    fi
}

show() {
    local d size
    printf '%-10s %-6s %8s %8s %8s\n' "Pagesize" "Node" "Total" "Free" "Reserved"
    for d in /sys/kernel/mm/hugepages/hugepages-*kB; do
        [[ -d $d ]] || continue
        size=${d##*-}
        printf '%-10s %-6s %8s %8s %8s\n' "$size" "all" "$(cat "$d/nr_hugepages")" \
            "$(cat "$d/free_hugepages")" "$(cat "$d/resv_hugepages")"
        local n
        for n in /sys/devices/system/node/node*/hugepages/hugepages-"$size"; do
            [[ -d $n ]] || continue
            local node=${n#/sys/devices/system/node/node}
            node=${node%%/*}
            printf '%-10s %-6s %8s %8s %8s\n' "$size" "$node" "$(cat "$n/nr_hugepages")" \
                "$(cat "$n/free_hugepages")" "-"
        done
    done
    echo
    echo "Hugetlbfs mounts:"
    awk '$3 == "hugetlbfs" {print "  " $2 "  (" $4 ")"}' /proc/mounts
}

mounted_at() {
    awk -v dir="$1" '$3 == "hugetlbfs" && $2 == dir {found=1} END {exit !found}' /proc/mounts
}

do_mount() {
    need_root "mounting hugetlbfs"
    local dir=$1 pagesize_kb=$2
    if mounted_at "$dir"; then
        return
    fi
    mkdir -p "$dir"
    mount -t hugetlbfs -o "pagesize=${pagesize_kb}K" nodev "$dir"
    echo "mounted hugetlbfs (${pagesize_kb} kB pages) at $dir"
}

do_unmount() {
    need_root "unmounting hugetlbfs"
    local m
    for m in $(awk '$3 == "hugetlbfs" {print $2}' /proc/mounts); do
        umount "$m" && echo "unmounted $m"
    done
}

set_pages() {
    local pagesize_kb=$1 pages=$2 node=$3 path
    if [[ -n $node ]]; then
        path=/sys/devices/system/node/node$node/hugepages/hugepages-${pagesize_kb}kB/nr_hugepages
    else
        path=/sys/kernel/mm/hugepages/hugepages-${pagesize_kb}kB/nr_hugepages
    fi
    [[ -e $path ]] || { echo "hugepages.sh: no ${pagesize_kb} kB hugepages here ($path)" >&2; exit 1; }
    echo "$pages" > "$path"
    local got
    got=$(cat "$path")
    if [[ $got -lt $pages ]]; then
        echo "hugepages.sh: asked for $pages pages of ${pagesize_kb} kB, the kernel gave $got" \
             "(memory is fragmented or short)" >&2
        exit 1
    fi
    echo "reserved $got pages of ${pagesize_kb} kB${node:+ on node $node}"
}

do_clear() {
    need_root "clearing hugepages"
    local d m
    # rpdk's files that no live process holds (each live one is flock'ed).
    for m in $(awk '$3 == "hugetlbfs" {print $2}' /proc/mounts); do
        for f in "$m"/*map_*; do
            [[ -e $f ]] || continue
            flock -n -x "$f" rm -f "$f" 2>/dev/null || true
        done
    done
    for d in /sys/kernel/mm/hugepages/hugepages-*kB; do
        echo 0 > "$d/nr_hugepages"
    done
    echo "released all hugepages not in use"
}

main() {
    local do_show=0 reserve="" mount=0 unmount=0 clear=0 pagesize="" node="" dir=/dev/hugepages
    [[ $# -gt 0 ]] || { usage; exit 1; }
    while [[ $# -gt 0 ]]; do
        case $1 in
            -s|--show) do_show=1 ;;
            -r|--reserve) reserve=${2:?--reserve needs a size}; shift ;;
            -m|--mount) mount=1 ;;
            -u|--unmount) unmount=1 ;;
            -c|--clear) clear=1 ;;
            --setup) reserve=${2:?--setup needs a size}; mount=1; shift ;;
            -p|--pagesize) pagesize=${2:?--pagesize needs a size}; shift ;;
            -n|--node) node=${2:?--node needs a number}; shift ;;
            -d|--directory) dir=${2:?--directory needs a path}; shift ;;
            -h|--help) usage; exit 0 ;;
            *) echo "hugepages.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
        esac
        shift
    done
    local pagesize_kb
    if [[ -n $pagesize ]]; then
        pagesize_kb=$(to_kb "$pagesize")
    else
        pagesize_kb=$(default_pagesize_kb)
    fi
    if [[ $clear -eq 1 ]]; then
        do_clear
    fi
    if [[ $unmount -eq 1 ]]; then
        do_unmount
    fi
    if [[ -n $reserve ]]; then
        need_root "reserving hugepages"
        local kb pages
        kb=$(to_kb "$reserve")
        pages=$(((kb + pagesize_kb - 1) / pagesize_kb))
        set_pages "$pagesize_kb" "$pages" "$node"
    fi
    if [[ $mount -eq 1 ]]; then
        do_mount "$dir" "$pagesize_kb"
    fi
    if [[ $do_show -eq 1 ]]; then
        show
    fi
}

main "$@"
