//! The flow metadata dynamic field (DPDK's `rte_flow_dynf_metadata_register` and
//! `RTE_FLOW_DYNF_METADATA`): where SET_META's value reaches the application on ingress
//! (`RTE_MBUF_DYNFLAG_RX_METADATA`), and where an application gives egress rules' META items a
//! value (`RTE_MBUF_DYNFLAG_TX_METADATA`, the same bit).
//!
//! ```
//! let m = rpdk_flow::dynf_metadata_register()?;
//! assert!(rpdk_flow::dynf_metadata_avail());
//! # let _ = m;
//! # Ok::<(), rpdk_mbuf::DynError>(())
//! ```

use rpdk_mbuf::{DynError, DynField, DynFlag, Mbuf};
use std::sync::OnceLock;

/// DPDK's names (`RTE_MBUF_DYNFIELD_METADATA_NAME`, `RTE_MBUF_DYNFLAG_METADATA_NAME`).
const FIELD: &str = "rte_flow_dynfield_metadata";
const FLAG: &str = "rte_flow_dynflag_metadata";

static METADATA: OnceLock<(DynField<u32>, DynFlag)> = OnceLock::new();

/// Registers the metadata field (a `u32`) and its flag (`rte_flow_dynf_metadata_register`);
/// the same field and flag on every call. Creating a rule with SET_META (or a MODIFY_FIELD into
/// META) registers them, as testpmd does when it parses `set_meta`.
pub fn dynf_metadata_register() -> Result<(DynField<u32>, DynFlag), DynError> {
    if let Some(m) = METADATA.get() {
        return Ok(*m);
    }
    let m = (DynField::register(FIELD)?, DynFlag::register(FLAG)?);
    Ok(*METADATA.get_or_init(|| m))
}

/// Whether the field is registered (`rte_flow_dynf_metadata_avail`).
pub fn dynf_metadata_avail() -> bool {
    METADATA.get().is_some()
}

/// The mbuf's metadata, if its flag is set (`RTE_MBUF_DYNFLAG_RX_METADATA` /
/// `TX_METADATA`).
#[inline]
pub fn dynf_metadata(m: &Mbuf) -> Option<u32> {
    let (f, flag) = METADATA.get()?;
    flag.get(m).then(|| f.get(m))
}

/// Writes the metadata and sets its flag, when the field is registered.
#[inline]
pub(crate) fn set_dynf_metadata(m: &mut Mbuf, v: u32) {
    if let Some((f, flag)) = METADATA.get() {
        f.set(m, v);
        flag.set(m, true);
    }
}
