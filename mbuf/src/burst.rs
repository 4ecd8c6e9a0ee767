//! A burst of mbufs on the stack, as rx/tx bursts pass them (up to `N`, 32 by default).

use std::mem::MaybeUninit;
use std::ptr::NonNull;

use crate::header::MbufHeader;
use crate::mbuf::{Mbuf, prefree_seg};

/// The default burst size (DPDK examples' `MAX_PKT_BURST`).
pub const DEFAULT_BURST: usize = 32;

/// Up to `N` mbufs in an array on the stack, in order. Dropping it frees the mbufs it still
/// holds, in bulk.
///
/// `rx_burst` appends to it, `tx_burst` takes from its front and leaves what it could not send.
pub struct MbufBurst<const N: usize = DEFAULT_BURST> {
    len: usize,
    slots: [MaybeUninit<Mbuf>; N],
}

impl<const N: usize> Default for MbufBurst<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> MbufBurst<N> {
    /// An empty burst.
    #[inline]
    pub const fn new() -> Self {
        MbufBurst {
            len: 0,
            slots: [const { MaybeUninit::uninit() }; N],
        }
    }

    /// The capacity, `N`.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Mbufs held.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds none.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether it is full.
    #[inline(always)]
    pub fn is_full(&self) -> bool {
        self.len == N
    }

    /// Room left.
    #[inline(always)]
    pub fn room(&self) -> usize {
        N - self.len
    }

    /// Appends an mbuf, or gives it back when full.
    #[inline]
    pub fn push(&mut self, m: Mbuf) -> Result<(), Mbuf> {
        self.view().push(m)
    }

    /// Appends without checking room.
    ///
    /// # Safety
    /// The burst is not full.
    #[inline(always)]
    pub unsafe fn push_unchecked(&mut self, m: Mbuf) {
        // SAFETY: the caller guarantees len < N.
        unsafe { self.slots.get_unchecked_mut(self.len) }.write(m);
        self.len += 1;
    }

    /// Removes the last mbuf.
    #[inline]
    pub fn pop(&mut self) -> Option<Mbuf> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        // SAFETY: slots below the old len are initialised; this one is now outside the burst.
        Some(unsafe { self.slots[self.len].assume_init_read() })
    }

    /// The mbufs.
    #[inline(always)]
    pub fn as_slice(&self) -> &[Mbuf] {
        held(&self.slots, self.len)
    }

    /// The mbufs, mutable.
    #[inline(always)]
    pub fn as_mut_slice(&mut self) -> &mut [Mbuf] {
        held_mut(&mut self.slots, self.len)
    }

    /// Iterates over the mbufs.
    pub fn iter(&self) -> std::slice::Iter<'_, Mbuf> {
        self.as_slice().iter()
    }

    /// Iterates over the mbufs, mutably.
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, Mbuf> {
        self.as_mut_slice().iter_mut()
    }

    /// Removes the first `n` mbufs, moving the rest to the front, and hands them to `f` in
    /// order (what `tx_burst` does with the mbufs it sent).
    #[inline]
    pub fn take_front(&mut self, n: usize, f: impl FnMut(Mbuf)) {
        self.view().take_front(n, f);
    }

    /// The mbufs as raw pointers, for drivers that hand them to hardware or rings.
    #[inline(always)]
    pub fn as_raw(&self) -> &[NonNull<MbufHeader>] {
        held_raw(&self.slots, self.len)
    }

    /// Forgets the first `n` mbufs without freeing them, moving the rest to the front: their
    /// ownership went elsewhere (to a ring, to hardware) through [`as_raw`](Self::as_raw).
    ///
    /// # Safety
    /// The first `n` mbufs are owned by someone else now.
    #[inline]
    pub unsafe fn forget_front(&mut self, n: usize) {
        // SAFETY: the caller's contract is the view's.
        unsafe { self.view().forget_front(n) }
    }

    /// A view that any code (a driver behind a trait object) can fill or drain without
    /// knowing `N`.
    #[inline(always)]
    pub fn view(&mut self) -> BurstView<'_> {
        BurstView {
            slots: &mut self.slots,
            len: &mut self.len,
        }
    }

    /// A view whose room is at most `room` (for bursts smaller than the capacity).
    #[inline(always)]
    pub fn view_limit(&mut self, room: usize) -> BurstView<'_> {
        let end = (self.len + room).min(N);
        BurstView {
            slots: &mut self.slots[..end],
            len: &mut self.len,
        }
    }

    /// Runs `f` over a view of the mbufs from index `from` on (those appended since the burst
    /// held `from`), whose room is at most `room`: what `f` keeps, drops or adds there is
    /// what the burst holds after `from`. The mbufs before `from` are not touched.
    #[inline]
    pub fn with_tail_view<R>(
        &mut self,
        from: usize,
        room: usize,
        f: impl FnOnce(&mut BurstView<'_>) -> R,
    ) -> R {
        let from = from.min(self.len);
        let end = (self.len + room).min(N);
        let mut tail_len = self.len - from;
        let r = f(&mut BurstView {
            slots: &mut self.slots[from..end],
            len: &mut tail_len,
        });
        self.len = from + tail_len;
        r
    }

    /// Frees every mbuf, in bulk per pool (DPDK's `rte_pktmbuf_free_bulk`).
    pub fn clear(&mut self) {
        let n = self.len;
        self.len = 0;
        // SAFETY: the first n slots were initialised and are now outside the burst.
        unsafe { free_bulk(self.slots.as_ptr() as *const NonNull<MbufHeader>, n) };
    }
}

/// A borrowed [`MbufBurst`] of any capacity: what rx and tx functions of drivers receive. Receive
/// pushes into its room; transmit takes from its front.
pub struct BurstView<'a> {
    slots: &'a mut [MaybeUninit<Mbuf>],
    len: &'a mut usize,
}

impl BurstView<'_> {
    /// Mbufs held.
    #[inline(always)]
    pub fn len(&self) -> usize {
        *self.len
    }

    /// Whether it holds none.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        *self.len == 0
    }

    /// Room left.
    #[inline(always)]
    pub fn room(&self) -> usize {
        self.slots.len() - *self.len
    }

    /// Appends an mbuf, or gives it back when full.
    #[inline(always)]
    pub fn push(&mut self, m: Mbuf) -> Result<(), Mbuf> {
        if *self.len == self.slots.len() {
            return Err(m);
        }
        self.slots[*self.len].write(m);
        *self.len += 1;
        Ok(())
    }

    /// The mbufs.
    #[inline(always)]
    pub fn as_slice(&self) -> &[Mbuf] {
        held(self.slots, *self.len)
    }

    /// The mbufs, mutable.
    #[inline(always)]
    pub fn as_mut_slice(&mut self) -> &mut [Mbuf] {
        held_mut(self.slots, *self.len)
    }

    /// Removes the first `n` mbufs and hands them to `f`, moving the rest to the front.
    #[inline]
    pub fn take_front(&mut self, n: usize, mut f: impl FnMut(Mbuf)) {
        let n = n.min(*self.len);
        for i in 0..n {
            // SAFETY: slot i < len is initialised and taken once.
            f(unsafe { self.slots[i].assume_init_read() });
        }
        // SAFETY: moves the initialised tail to the front.
        unsafe {
            std::ptr::copy(
                self.slots.as_ptr().add(n),
                self.slots.as_mut_ptr(),
                *self.len - n,
            );
        }
        *self.len -= n;
    }

    /// The mbufs as raw pointers, for drivers that hand them to hardware or rings.
    #[inline(always)]
    pub fn as_raw(&self) -> &[NonNull<MbufHeader>] {
        held_raw(self.slots, *self.len)
    }

    /// Forgets the first `n` mbufs, whose ownership went elsewhere through
    /// [`as_raw`](Self::as_raw).
    ///
    /// # Safety
    /// The first `n` mbufs are owned by someone else now.
    #[inline]
    pub unsafe fn forget_front(&mut self, n: usize) {
        let n = n.min(*self.len);
        // SAFETY: moves the initialised tail to the front.
        unsafe {
            std::ptr::copy(
                self.slots.as_ptr().add(n),
                self.slots.as_mut_ptr(),
                *self.len - n,
            );
        }
        *self.len -= n;
    }

    /// Keeps the mbufs for which `keep` is true, in order, and frees the others (how a
    /// callback or a filter drops packets of a burst). Returns how many it freed. Should `keep`
    /// panic, the mbufs not yet looked at are leaked, never freed twice.
    pub fn retain(&mut self, mut keep: impl FnMut(&mut Mbuf) -> bool) -> usize {
        let n = *self.len;
        // Nothing is the burst's while slots are moved: a panic in `keep` leaks, not frees twice.
        *self.len = 0;
        let mut kept = 0;
        for i in 0..n {
            // SAFETY: slot i < n is initialised; it is read once here and either written back
            // at `kept <= i` or dropped (freed).
            let mut m = unsafe { self.slots[i].assume_init_read() };
            if keep(&mut m) {
                self.slots[kept].write(m);
                kept += 1;
            } else {
                drop(m);
            }
        }
        *self.len = kept;
        n - kept
    }

    /// Hands each mbuf to `f`, in order, keeping those it gives back (`Some`); those it keeps
    /// (`None`) are its own now: moved elsewhere, or dropped. Returns how many it kept. As
    /// [`retain`](Self::retain), a panic in `f` leaks the rest.
    pub fn retain_owned(&mut self, mut f: impl FnMut(Mbuf) -> Option<Mbuf>) -> usize {
        let n = *self.len;
        *self.len = 0;
        let mut kept = 0;
        for i in 0..n {
            // SAFETY: slot i < n is initialised; it is read once here, and written back at
            // `kept <= i` only if `f` returns it.
            let m = unsafe { self.slots[i].assume_init_read() };
            if let Some(m) = f(m) {
                self.slots[kept].write(m);
                kept += 1;
            }
        }
        *self.len = kept;
        n - kept
    }

    /// Frees the last `n` mbufs (undoing appends).
    pub fn pop_n(&mut self, n: usize) {
        let n = n.min(*self.len);
        let start = *self.len - n;
        // SAFETY: slots [start, len) are initialised; they are freed once and dropped from the
        // burst.
        unsafe {
            free_bulk(
                (self.slots.as_ptr() as *const NonNull<MbufHeader>).add(start),
                n,
            )
        };
        *self.len = start;
    }

    /// Frees the first `n` mbufs in bulk (what a transmit that is done with them does) and moves
    /// the rest to the front.
    #[inline]
    pub fn free_front(&mut self, n: usize) {
        let n = n.min(*self.len);
        // SAFETY: the first n slots are initialised; they are freed once and then forgotten.
        unsafe {
            free_bulk(self.slots.as_ptr() as *const NonNull<MbufHeader>, n);
            self.forget_front(n);
        }
    }

    /// The `n` slots after the mbufs held, as raw pointers (null until written), for filling
    /// in place before [`commit_raw`](Self::commit_raw). `n` is at most the room.
    #[inline(always)]
    pub(crate) fn spare_raw(&mut self, n: usize) -> &mut [*mut u8] {
        let spare = &mut self.slots[*self.len..*self.len + n];
        for slot in spare.iter_mut() {
            // SAFETY: MaybeUninit<Mbuf> has the layout of a pointer; writing null makes the
            // slot a valid `*mut u8`.
            unsafe {
                slot.as_mut_ptr()
                    .cast::<*mut u8>()
                    .write(std::ptr::null_mut())
            };
        }
        // SAFETY: the `n` slots are initialised pointers now, borrowed from `self`.
        unsafe { std::slice::from_raw_parts_mut(spare.as_mut_ptr().cast::<*mut u8>(), n) }
    }

    /// The `n` slots after the mbufs held, as they are (not initialised), for filling in place
    /// before [`commit_raw`](Self::commit_raw). `n` is at most the room.
    #[inline(always)]
    pub(crate) fn spare_uninit(&mut self, n: usize) -> &mut [MaybeUninit<Mbuf>] {
        &mut self.slots[*self.len..*self.len + n]
    }

    /// Takes the `n` slots after the mbufs held as mbufs of the burst.
    ///
    /// # Safety
    /// Each holds an allocated mbuf that nobody else owns.
    #[inline(always)]
    pub(crate) unsafe fn commit_raw(&mut self, n: usize) {
        debug_assert!(n <= self.room());
        *self.len += n;
    }

    /// Appends mbufs given as raw pointers (from a ring, from hardware).
    ///
    /// # Safety
    /// Each pointer is an allocated mbuf that nobody else owns; they fit the room.
    #[inline]
    pub unsafe fn extend_raw(&mut self, ms: &[NonNull<MbufHeader>]) {
        debug_assert!(ms.len() <= self.room());
        // SAFETY: Mbuf is repr(transparent) over NonNull; the caller gives us ownership and
        // guarantees room.
        unsafe {
            std::ptr::copy_nonoverlapping(
                ms.as_ptr() as *const MaybeUninit<Mbuf>,
                self.slots.as_mut_ptr().add(*self.len),
                ms.len(),
            );
        }
        *self.len += ms.len();
    }
}

// Both burst types keep one invariant: the first `len` of their `slots` hold initialised mbufs
// that the burst owns, the rest are uninitialised. These three read the held part through it;
// each caller passes its own `slots` and `len`.

/// The held mbufs.
#[inline(always)]
fn held(slots: &[MaybeUninit<Mbuf>], len: usize) -> &[Mbuf] {
    debug_assert!(len <= slots.len());
    // SAFETY: the first `len` slots are initialised (the invariant above), and
    // MaybeUninit<Mbuf> has Mbuf's layout.
    unsafe { std::slice::from_raw_parts(slots.as_ptr().cast::<Mbuf>(), len) }
}

/// The held mbufs, mutable.
#[inline(always)]
fn held_mut(slots: &mut [MaybeUninit<Mbuf>], len: usize) -> &mut [Mbuf] {
    debug_assert!(len <= slots.len());
    // SAFETY: as `held`, borrowed mutably from the slots.
    unsafe { std::slice::from_raw_parts_mut(slots.as_mut_ptr().cast::<Mbuf>(), len) }
}

/// The held mbufs as raw pointers.
#[inline(always)]
fn held_raw(slots: &[MaybeUninit<Mbuf>], len: usize) -> &[NonNull<MbufHeader>] {
    let ms = held(slots, len);
    // SAFETY: Mbuf is repr(transparent) over NonNull<MbufHeader>.
    unsafe { std::slice::from_raw_parts(ms.as_ptr().cast::<NonNull<MbufHeader>>(), ms.len()) }
}

/// Frees `n` mbuf chains, giving last-reference segments back to their pools in bulk.
///
/// # Safety
/// The caller owns the `n` chains and gives them up.
unsafe fn free_bulk(ms: *const NonNull<MbufHeader>, n: usize) {
    const BATCH: usize = 64;
    // Not zeroed: only the first `count` entries are ever read.
    let mut pending = [MaybeUninit::<*mut u8>::uninit(); BATCH];
    let mut count = 0usize;
    let mut pool = std::ptr::null();
    let flush = |pending: &mut [MaybeUninit<*mut u8>; BATCH],
                 count: &mut usize,
                 pool: *const rpdk_mempool::RawMempool| {
        if *count > 0 {
            // SAFETY: the first `count` entries were written; every one is an object of
            // `pool`, freed once.
            unsafe {
                let objs = std::slice::from_raw_parts(pending.as_ptr().cast::<*mut u8>(), *count);
                (*pool).put_bulk(objs)
            };
            *count = 0;
        }
    };
    for i in 0..n {
        // SAFETY: the caller owns each chain.
        let mut m = unsafe { (*ms.add(i)).as_ptr() };
        while !m.is_null() {
            // SAFETY: we own the chain; `next` is read before the segment is recycled.
            let next = unsafe { (*m).next };
            // SAFETY: giving up our reference on `m`.
            if let Some(seg) = unsafe { prefree_seg(m) } {
                // SAFETY: a segment about to go back to its pool.
                let p = unsafe { (*seg).pool };
                if p != pool || count == BATCH {
                    flush(&mut pending, &mut count, pool);
                    pool = p;
                }
                pending[count].write(seg as *mut u8);
                count += 1;
            }
            m = next;
        }
    }
    flush(&mut pending, &mut count, pool);
}

impl<const N: usize> Drop for MbufBurst<N> {
    fn drop(&mut self) {
        self.clear();
    }
}

impl<const N: usize> std::fmt::Debug for MbufBurst<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a, const N: usize> IntoIterator for &'a MbufBurst<N> {
    type Item = &'a Mbuf;
    type IntoIter = std::slice::Iter<'a, Mbuf>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, const N: usize> IntoIterator for &'a mut MbufBurst<N> {
    type Item = &'a mut Mbuf;
    type IntoIter = std::slice::IterMut<'a, Mbuf>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}
