//! `net_pcap`: ports that read and write capture files or kernel interfaces (DPDK's
//! `drivers/net/pcap`).

pub mod format;
