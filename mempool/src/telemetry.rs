//! The `/mempool/...` telemetry commands, with DPDK's names and replies
//! (`docs/telemetry.md`), registered by being linked.

use linkme::distributed_slice;
use rpdk_eal::telemetry::{Command, CommandError, Data, TELEMETRY_COMMANDS, ValueType};

use crate::backing::Ops;
use crate::pool::{MEMPOOL_NAME_MAX, Mempool};

type Reply = Result<(), CommandError>;

fn list(_cmd: &str, _params: Option<&str>, d: &mut Data) -> Reply {
    d.start_array(ValueType::String);
    for pool in Mempool::list() {
        d.add_array_string(pool.name())?;
    }
    Ok(())
}

/// `/mempool/info,NAME`: the pool's description, or `{}` for a name no pool has (as DPDK).
fn info(_cmd: &str, params: Option<&str>, d: &mut Data) -> Reply {
    let name = params
        .filter(|p| !p.is_empty())
        .ok_or("a pool name is needed")?;
    d.start_dict();
    if name.len() > MEMPOOL_NAME_MAX {
        return Ok(());
    }
    let Some(pool) = Mempool::lookup(name) else {
        return Ok(());
    };
    let size = pool.obj_size();
    let ops_index = Ops::ALL.iter().position(|&o| o == pool.ops()).unwrap_or(0);
    d.add_dict_string("name", pool.name())?;
    d.add_dict_uint("pool_id", pool.as_raw() as u64)?;
    d.add_dict_uint("flags", u64::from(pool.flags().bits()))?;
    d.add_dict_int("socket_id", i64::from(pool.socket_id()))?;
    d.add_dict_uint("size", u64::from(pool.size()))?;
    d.add_dict_uint("cache_size", u64::from(pool.cache_size()))?;
    d.add_dict_uint("elt_size", size.elt_size as u64)?;
    d.add_dict_uint("header_size", size.header_size as u64)?;
    d.add_dict_uint("trailer_size", size.trailer_size as u64)?;
    d.add_dict_uint("private_data_size", pool.private_data().1 as u64)?;
    d.add_dict_int("ops_index", ops_index as i64)?;
    d.add_dict_uint("populated_size", u64::from(pool.size()))?;
    let (cached, common) = pool.counts();
    d.add_dict_uint("total_cache_count", u64::from(cached))?;
    d.add_dict_uint("common_pool_count", u64::from(common))?;
    let mz = pool.memzone();
    d.add_dict_string("mz_name", mz.name())?;
    d.add_dict_uint("mz_len", mz.len() as u64)?;
    d.add_dict_uint("mz_hugepage_sz", mz.hugepage_size() as u64)?;
    d.add_dict_int("mz_socket_id", i64::from(mz.socket_id()))?;
    d.add_dict_uint("mz_flags", u64::from(mz.flags().bits()))?;
    Ok(())
}

#[distributed_slice(TELEMETRY_COMMANDS)]
static LIST: Command = Command {
    name: "/mempool/list",
    help: "Returns list of available mempool. Takes no parameters",
    handler: list,
};

#[distributed_slice(TELEMETRY_COMMANDS)]
static INFO: Command = Command {
    name: "/mempool/info",
    help: "Returns mempool info. Parameters: pool_name",
    handler: info,
};
