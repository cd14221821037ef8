//! Python objects for one decoded answer, built with as little allocation as
//! the interpreter allows.
//!
//! A page of records repeats itself: the same dozen keys in the same order in
//! every record, the same few words (`"inbound"`, `"ANSWERED"`) and small
//! numbers in many. [`Builder`] hands out one `str` object per key (predicted
//! by its position in the object, so a record's keys cost a short compare,
//! not a hash), shares short strings and small integers between records, and
//! builds a record's dict by copying a template of its shape (one allocation
//! of the final size) instead of growing a new dict through two resizes.
//! Sharing immutable objects is invisible to Python code except through `is`;
//! every dict is its own.

use std::sync::{Mutex, MutexGuard, TryLockError};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

/// A key and its value, as decoded, waiting for their object to end.
pub type Pair<'py> = (Bound<'py, PyString>, Bound<'py, PyAny>);

/// The shared state of one decode (see the module's text).
pub struct Builder<'py> {
    py: Python<'py>,
    keys: KeyCache<'py>,
    words: WordCache<'py>,
    small_ints: Vec<Option<Bound<'py, PyAny>>>,
    /// Values made so far, up to [`Builder::WARM`]: the value caches start
    /// after that many, so a small answer pays for no table.
    made: u32,
    shapes: Shapes<'py>,
    /// The pairs of the objects being decoded, innermost last (a stack, so
    /// nested objects need no allocation of their own).
    pub pairs: Vec<Pair<'py>>,
}

impl<'py> Builder<'py> {
    /// Integers below this are shared (CPython itself shares only up to 256).
    const SMALL_INTS: u64 = 4096;
    /// Values an answer makes before its strings and integers are shared.
    const WARM: u32 = 64;

    /// A builder for one answer.
    pub fn new(py: Python<'py>) -> Builder<'py> {
        Builder {
            py,
            keys: KeyCache::new(),
            words: WordCache::new(),
            small_ints: Vec::new(),
            made: 0,
            shapes: Shapes::default(),
            pairs: Vec::new(),
        }
    }

    /// A builder that shares values from the first one (tests run the caches
    /// on small documents with it).
    #[cfg(test)]
    pub fn warmed(py: Python<'py>) -> Builder<'py> {
        Builder {
            made: Self::WARM,
            ..Builder::new(py)
        }
    }

    /// The interpreter this builder makes objects in.
    pub fn py(&self) -> Python<'py> {
        self.py
    }

    /// The `str` for the key at `position` (0-based) in its object.
    pub fn key(&mut self, text: &str, position: usize) -> Bound<'py, PyString> {
        self.keys.get(self.py, text, position)
    }

    /// A string value: shared when short and seen recently.
    pub fn string(&mut self, text: &str) -> Bound<'py, PyAny> {
        if !self.warm() {
            return PyString::new(self.py, text).into_any();
        }
        self.words.get(self.py, text)
    }

    /// True once the answer has made enough values for sharing to pay.
    fn warm(&mut self) -> bool {
        if self.made < Self::WARM {
            self.made += 1;
            return false;
        }
        true
    }

    /// An unsigned integer value: shared when small.
    pub fn uint(&mut self, n: u64) -> PyResult<Bound<'py, PyAny>> {
        if n >= Self::SMALL_INTS || !self.warm() {
            return Ok(n.into_pyobject(self.py)?.into_any());
        }
        let i = n as usize;
        if self.small_ints.len() <= i {
            self.small_ints.resize(i + 1, None);
        }
        if let Some(obj) = &self.small_ints[i] {
            return Ok(obj.clone());
        }
        let obj = n.into_pyobject(self.py)?.into_any();
        self.small_ints[i] = Some(obj.clone());
        Ok(obj)
    }

    /// The dict of the object whose pairs start at `from` in [`Self::pairs`]
    /// (they are taken off the stack): the pairs inserted in order, so a
    /// repeated key keeps its first place and its last value, as `json.loads`
    /// does.
    pub fn dict_from(&mut self, from: usize) -> PyResult<Bound<'py, PyDict>> {
        let dict = self.shapes.dict_for(self.py, &self.pairs[from..])?;
        for (k, v) in self.pairs.drain(from..) {
            dict.set_item(k, v)?;
        }
        Ok(dict)
    }
}

/// One `str` per key text. Objects of a page list their keys in the same
/// order, so the key last seen at the same position is tried first; then the
/// process's [`SharedKeys`], which keeps the keys of earlier answers (an API
/// has a few hundred key names, and every answer repeats them).
struct KeyCache<'py> {
    by_position: Vec<Option<(Short, Bound<'py, PyString>)>>,
    /// The shared table, when this decode could take it (see [`SharedKeys`]).
    shared: Option<MutexGuard<'static, SharedKeys>>,
}

impl<'py> KeyCache<'py> {
    const MAX_POSITIONS: usize = 64;

    fn new() -> KeyCache<'py> {
        KeyCache {
            by_position: Vec::new(),
            shared: SharedKeys::take(),
        }
    }

    fn get(&mut self, py: Python<'py>, text: &str, position: usize) -> Bound<'py, PyString> {
        let short = Short::of(text.as_bytes());
        if let (Some(short), Some(Some((seen, key)))) = (short, self.by_position.get(position)) {
            if *seen == short {
                return key.clone();
            }
        }
        let key = match &mut self.shared {
            Some(shared) => shared.get(py, text),
            None => PyString::new(py, text),
        };
        if let Some(short) = short.filter(|_| position < Self::MAX_POSITIONS) {
            if self.by_position.len() <= position {
                // One allocation for the usual object instead of one per doubling.
                self.by_position.reserve(16);
                self.by_position.resize_with(position + 1, || None);
            }
            self.by_position[position] = Some((short, key.clone()));
        }
        key
    }
}

/// The `str` objects of keys seen by earlier answers, for the whole process: a
/// direct-mapped table (a miss makes the `str` and takes the slot), so a
/// call's answer finds its keys made, with their hashes already computed by
/// the dicts they went into, instead of making and hashing each one.
///
/// Only touched while the GIL is held, by one decode at a time: a decode that
/// finds it taken makes its keys itself. That happens to a decode nested in
/// another on one thread, or to another thread's when the GIL was let go in
/// the middle of a decode (a garbage collection running a finalizer can), and
/// for good to a child forked in such a moment (it only loses the sharing).
/// It is only ever tried, never waited for.
pub(crate) struct SharedKeys {
    slots: Vec<Option<(Box<str>, Py<PyString>)>>,
}

static SHARED_KEYS: Mutex<SharedKeys> = Mutex::new(SharedKeys { slots: Vec::new() });

impl SharedKeys {
    const SLOTS: usize = 1024;
    /// Longer keys are made for each answer (they are rare, and a long text
    /// would pin memory in a table that lives as long as the process).
    const MAX_KEY_LEN: usize = 64;

    /// The table, unless another decode holds it.
    fn take() -> Option<MutexGuard<'static, SharedKeys>> {
        match SHARED_KEYS.try_lock() {
            Ok(guard) => Some(guard),
            // A panic while it was held left whole entries only: still usable.
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    fn get<'py>(&mut self, py: Python<'py>, text: &str) -> Bound<'py, PyString> {
        if text.len() > Self::MAX_KEY_LEN {
            return PyString::new(py, text);
        }
        if self.slots.is_empty() {
            self.slots = (0..Self::SLOTS).map(|_| None).collect();
        }
        let slot = &mut self.slots[text_hash(text.as_bytes()) % Self::SLOTS];
        if let Some((seen, key)) = slot {
            if **seen == *text {
                return key.bind(py).clone();
            }
        }
        let key = PyString::new(py, text);
        *slot = Some((text.into(), key.clone().unbind()));
        key
    }
}

/// A cheap hash of a short text (8 bytes at a time, multiply and fold).
fn text_hash(b: &[u8]) -> usize {
    let mut h = (b.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let word = u64::from_le_bytes(c.try_into().unwrap_or_default());
        h = (h ^ word)
            .wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
            .rotate_left(31);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h ^ u64::from_le_bytes(tail)).wrapping_mul(0x1656_67B1_9E37_79F9);
    (h >> 32) as usize
}

/// A text of at most 16 bytes as one number with its length, so telling two
/// apart is one comparison instead of a `memcmp` call. The number is read
/// with two overlapping loads (the first and the last bytes of the text):
/// for a given length every byte is in one of them, so equal numbers of equal
/// lengths are equal texts.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Short {
    bytes: u128,
    len: u8,
}

impl Short {
    const MAX_LEN: usize = 16;

    fn of(b: &[u8]) -> Option<Short> {
        let n = b.len();
        let (lo, hi) = match n {
            0 => (0, 0),
            1..=3 => (
                u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16,
                0,
            ),
            4..=7 => (
                u64::from(u32::from_le_bytes(b[..4].try_into().ok()?)),
                u64::from(u32::from_le_bytes(b[n - 4..].try_into().ok()?)),
            ),
            8..=Self::MAX_LEN => (
                u64::from_le_bytes(b[..8].try_into().ok()?),
                u64::from_le_bytes(b[n - 8..].try_into().ok()?),
            ),
            _ => return None,
        };
        Some(Short {
            bytes: u128::from(lo) | u128::from(hi) << 64,
            len: n as u8,
        })
    }

    /// A cheap hash (multiply and fold).
    fn hash(self) -> usize {
        let (lo, hi) = (self.bytes as u64, (self.bytes >> 64) as u64);
        let h = (lo ^ u64::from(self.len))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29)
            ^ hi.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
        (h.wrapping_mul(0x1656_67B1_9E37_79F9) >> 40) as usize
    }
}

/// Short strings seen recently, in a direct-mapped table: a hit shares the
/// object, a miss costs a hash and a compare and replaces the slot.
struct WordCache<'py> {
    slots: Vec<Option<(Short, Bound<'py, PyAny>)>>,
}

impl<'py> WordCache<'py> {
    const SLOTS: usize = 1024;

    /// An empty cache; its table is made on first use.
    fn new() -> WordCache<'py> {
        WordCache { slots: Vec::new() }
    }

    fn get(&mut self, py: Python<'py>, text: &str) -> Bound<'py, PyAny> {
        let Some(short) = Short::of(text.as_bytes()) else {
            return PyString::new(py, text).into_any();
        };
        if self.slots.is_empty() {
            self.slots = (0..Self::SLOTS).map(|_| None).collect();
        }
        let slot = &mut self.slots[short.hash() % Self::SLOTS];
        if let Some((seen, obj)) = slot {
            if *seen == short {
                return obj.clone();
            }
        }
        let obj = PyString::new(py, text).into_any();
        *slot = Some((short, obj.clone()));
        obj
    }
}

/// Templates of recent object shapes: a dict with the shape's keys, in order,
/// all mapped to `None`, and the key sequence it was made from. A template is
/// made the second time its shape is seen (a one-off object, such as a
/// call's single record, would pay for it without using it).
#[derive(Default)]
struct Shapes<'py> {
    recent: Vec<(Vec<Bound<'py, PyString>>, Bound<'py, PyDict>)>,
    /// Fingerprints of shapes seen once, most recent last.
    seen_once: Vec<u64>,
}

impl<'py> Shapes<'py> {
    /// Below this many keys a new dict needs no resize: templates do not pay.
    const MIN_KEYS: usize = 6;
    const MAX_SHAPES: usize = 8;
    const MAX_SEEN_ONCE: usize = 16;

    /// A dict ready to take `pairs` without growing: a copy of the template
    /// with exactly these keys in this order, or an empty dict.
    fn dict_for(&mut self, py: Python<'py>, pairs: &[Pair<'py>]) -> PyResult<Bound<'py, PyDict>> {
        if pairs.len() < Self::MIN_KEYS {
            return Ok(PyDict::new(py));
        }
        let same = |keys: &[Bound<'py, PyString>]| {
            keys.len() == pairs.len()
                && keys
                    .iter()
                    .zip(pairs)
                    .all(|(k, (p, _))| k.as_ptr() == p.as_ptr())
        };
        let template = match self.recent.iter().position(|(keys, _)| same(keys)) {
            Some(i) => &self.recent[i].1,
            None => {
                // The keys are shared objects, so their addresses tell shapes apart
                // (a fingerprint collision only makes a template early).
                let fingerprint = pairs.iter().fold(pairs.len() as u64, |h, (k, _)| {
                    (h ^ k.as_ptr() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                });
                if !self.seen_once.contains(&fingerprint) {
                    if self.seen_once.len() == Self::MAX_SEEN_ONCE {
                        self.seen_once.remove(0);
                    }
                    self.seen_once.push(fingerprint);
                    return Ok(PyDict::new(py));
                }
                let template = PyDict::new(py);
                for (k, _) in pairs {
                    template.set_item(k, py.None())?;
                }
                if self.recent.len() == Self::MAX_SHAPES {
                    self.recent.remove(0);
                }
                let keys = pairs.iter().map(|(k, _)| k.clone()).collect();
                self.recent.push((keys, template));
                &self.recent[self.recent.len() - 1].1
            }
        };
        // SAFETY: `template` is a live dict; PyDict_Copy returns a new
        // reference (or NULL with an exception set, which `from_owned_ptr_or_err`
        // turns into the error).
        unsafe {
            Ok(
                Bound::from_owned_ptr_or_err(py, ffi::PyDict_Copy(template.as_ptr()))?
                    .cast_into_unchecked::<PyDict>(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pair of texts over a two-letter alphabet, of every length a
    /// `Short` holds (lengths 0-10 exhaustively, longer ones sampled): equal
    /// numbers exactly for equal texts.
    #[test]
    fn shorts_are_equal_exactly_for_equal_texts() {
        let text = |len: usize, bits: u32| -> Vec<u8> {
            (0..len)
                .map(|i| {
                    if bits >> (i % 32) & 1 == 1 {
                        b'b'
                    } else {
                        b'a'
                    }
                })
                .collect()
        };
        let mut all = Vec::new();
        for len in 0..=Short::MAX_LEN {
            let count = if len <= 10 { 1u32 << len } else { 2048 };
            for k in 0..count {
                let bits = if len <= 10 {
                    k
                } else {
                    k.wrapping_mul(0x9E37_79B9)
                };
                all.push(text(len, bits));
            }
        }
        all.sort();
        all.dedup();
        let shorts: Vec<Short> = all.iter().map(|t| Short::of(t).unwrap()).collect();
        let mut seen = std::collections::HashSet::new();
        for s in &shorts {
            assert!(seen.insert((s.bytes, s.len)), "two texts share a number");
        }
        assert!(Short::of(&[b'a'; 17]).is_none());
        assert!(Short::of(b"ab") != Short::of(b"ab\0"));
    }
}
