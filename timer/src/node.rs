//! A timer's node: the header that the lists and the protocol work on, followed by the callback
//! closure, in one heap allocation that stays put while the timer lives.
//!
//! Lists hold raw pointers to headers; the header's `vtable` gets back to the typed node to run
//! the closure or to free it, so every timer, whatever its closure type, goes in the same lists.

use std::ptr;

use crate::data::TimerData;
use crate::expired::Expired;
use crate::status::{STOPPED, Status};
use crate::sync::{AtomicU32, Racy};

/// What every timer has, whatever its closure. `#[repr(C)]` and first in [`Node`], so a
/// `*mut Node<F>` and its `*mut Header` are the same address.
///
/// Which thread may touch the `Racy` fields is the protocol's business (see `protocol.rs`):
/// the holder of the lock of the list the timer is pending on or homed at, or the lcore
/// running it.
#[repr(C)]
pub(crate) struct Header {
    /// The [`Status`] word.
    pub(crate) status: AtomicU32,
    /// Where the node is linked in its list's wheel (`level * 64 + slot`), while pending.
    pub(crate) slot: Racy<u32>,
    /// The next node in a wheel slot or in a batch being fired.
    pub(crate) next: Racy<*mut Header>,
    /// The previous node in a wheel slot.
    pub(crate) prev: Racy<*mut Header>,
    /// The deadline, in TSC cycles.
    pub(crate) expire: Racy<u64>,
    /// The period of a periodic timer, 0 for a single-shot one.
    pub(crate) period: Racy<u64>,
    /// The instance the timer belongs to (immutable).
    pub(crate) data: *const TimerData,
    vtable: &'static VTable,
}

struct VTable {
    run: unsafe fn(*mut Header, &Expired<'_>),
    free: unsafe fn(*mut Header),
}

/// A header and the closure it runs.
#[repr(C)]
pub(crate) struct Node<F> {
    header: Header,
    f: Racy<F>,
}

impl Header {
    /// Runs the node's callback.
    ///
    /// # Safety
    /// `n` is a live node whose callback the calling thread owns (the node is running on it).
    #[inline(always)]
    pub(crate) unsafe fn run(n: *mut Header, ctx: &Expired<'_>) {
        // SAFETY: `n` is live; `run` was made for its closure type.
        unsafe { ((*n).vtable.run)(n, ctx) }
    }

    /// Drops the closure, frees the node and releases the node's hold on its instance.
    ///
    /// # Safety
    /// `n` is live, linked in no list, referenced by no other thread, and never used again.
    pub(crate) unsafe fn free(n: *mut Header) {
        // SAFETY: `n` is live until `free` below, which was made for its closure type.
        let data = unsafe { (*n).data };
        // SAFETY: as above.
        unsafe { ((*n).vtable.free)(n) };
        // SAFETY: the node held one reference to its instance, taken by `Node::alloc`.
        unsafe { TimerData::release(data) };
    }
}

impl<F> Node<F>
where
    F: FnMut(&Expired<'_>) + Send + 'static,
{
    /// Whether nodes of this closure type fit a slab slot (a closure of up to 8 bytes: a plain
    /// function or one captured pointer); larger ones are boxed. Under loom, always boxed.
    const IN_SLAB: bool = !cfg!(loom)
        && size_of::<Node<F>>() <= crate::slab::SLOT
        && align_of::<Node<F>>() <= crate::slab::SLOT;

    const VTABLE: VTable = VTable {
        run: Self::run,
        free: Self::free,
    };

    /// Allocates a stopped timer node of instance `data` (whose reference the node now holds),
    /// homed at lcore `home`.
    pub(crate) fn alloc(f: F, data: *const TimerData, home: u32) -> *mut Header {
        let node = Node {
            header: Header {
                status: AtomicU32::new(Status::new(STOPPED, home).0),
                slot: Racy::new(0),
                next: Racy::new(ptr::null_mut()),
                prev: Racy::new(ptr::null_mut()),
                expire: Racy::new(0),
                period: Racy::new(0),
                data,
                vtable: &Self::VTABLE,
            },
            f: Racy::new(f),
        };
        if Self::IN_SLAB {
            let slot = crate::slab::alloc_slot().cast::<Node<F>>();
            // SAFETY: a slot is 64 bytes aligned to 64, which `IN_SLAB` checked is enough for
            // a `Node<F>`; it is uninitialised and ours.
            unsafe { slot.write(node) };
            slot.cast()
        } else {
            Box::into_raw(Box::new(node)).cast()
        }
    }

    unsafe fn run(n: *mut Header, ctx: &Expired<'_>) {
        let node = n.cast::<Node<F>>();
        // SAFETY: `n` is a live `Node<F>` (this function comes from its vtable) whose callback
        // only the calling thread runs.
        unsafe { (*node).f.with_mut(|f| f(ctx)) }
    }

    unsafe fn free(n: *mut Header) {
        let node = n.cast::<Node<F>>();
        if Self::IN_SLAB {
            // SAFETY: `n` is a live `Node<F>` that `alloc` wrote in a slab slot, freed once:
            // drop it in place, then the slot is unused.
            unsafe {
                ptr::drop_in_place(node);
                crate::slab::free_slot(node.cast());
            }
        } else {
            // SAFETY: `n` came from `Box::into_raw` of a `Node<F>` in `alloc` and is freed once.
            drop(unsafe { Box::from_raw(node) });
        }
    }
}
