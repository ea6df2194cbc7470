//! Every byte layout of the segment engine. FROZEN: changing one means bumping
//! [`SEGMENT_FORMAT_VERSION`] and teaching `recovery` to migrate or refuse the old one.
//!
//! All integers are LITTLE-endian. Checksums are CRC-32C (Castagnoli).
//!
//! ```text
//! <dir>/FORMAT      "tributary-segments 1\n": the layout version of this directory
//!
//! File header: the first 32 bytes of every .seg, .idx and .wal file
//!   +-----------+-------------+-------------+---------+---------+
//!   | magic [8] | version u32 | crc32c u32  | a u64   | b i64   |
//!   +-----------+-------------+-------------+---------+---------+
//!   crc32c over bytes 0..12 and 16..32. magic "TRIBSEG\0" .seg: a = base offset,
//!   b = arrival of the record at the base offset; "TRIBIDX\0" .idx: a = base offset, b = 0;
//!   "TRIBWAL\0" .wal: a = WAL position of the first batch in the file, b = 0.
//!
//! Segment record frame (.seg, from byte 32 on, back to back), 24-byte header:
//!   +---------+------------+------------+----------------+------------------+
//!   | len u32 | crc32c u32 | offset u64 | arrival_ms i64 | payload [len]    |
//!   +---------+------------+------------+----------------+------------------+
//!   crc32c over len (4 bytes LE), then offset, arrival_ms and payload.
//!
//! Index entry (.idx, from byte 32 on), 24 bytes, one for the first record of the segment and
//! then one for the first record written after at least `index_interval_bytes` of frames:
//!   +------------+-----------------+----------------+
//!   | offset u64 | file position u64 | arrival_ms i64 |
//!   +------------+-----------------+----------------+
//!
//! WAL batch (.wal, from byte 32 on, back to back), 16-byte header, one per group commit or
//! control operation:
//!   +-------------------+------------+---------+-----------------------------------------+
//!   | magic u32 "TBAT"  | crc32c u32 | len u64 | body [len]: count u32 | entry × count   |
//!   +-------------------+------------+---------+-----------------------------------------+
//!   crc32c over len (8 bytes LE) and the body.
//!
//! WAL entry: common head (21 bytes), then by kind
//!   +---------+------------+-----------+---------+
//!   | kind u8 | stream u64 | shard u32 | gen u64 |
//!   +---------+------------+-----------+---------+
//!   kind 1 FRAMES_INLINE, 2 FRAMES_IN_SEGMENT (44 more bytes):
//!     segment_base u64 | pos u64 | first_offset u64 | count u32 | arrival_ms i64 | frames_len u64
//!     then, for kind 1 only, the frames themselves (frames_len bytes, the exact bytes of the
//!     segment at `pos`); kind 2 means they were written and fsynced straight into the segment.
//!   kind 3 CREATE, 4 DELETE: nothing more.
//!   kind 5 TRIM: trim_offset u64.
//! ```

use std::ops::Range;

/// Version of every layout in this file (and of `checkpoint`). Checked at open.
pub const SEGMENT_FORMAT_VERSION: u32 = 1;

pub(super) const FORMAT_FILE: &str = "FORMAT";
pub(super) const FORMAT_TAG: &str = "tributary-segments";

pub(super) const FILE_HEADER_LEN: u64 = 32;
pub(super) const FRAME_HEADER_LEN: usize = 24;
pub(super) const IDX_ENTRY_LEN: u64 = 24;
pub(super) const BATCH_HEADER_LEN: usize = 16;
pub(super) const ENTRY_HEAD_LEN: usize = 21;
pub(super) const PIECE_HEADER_LEN: usize = ENTRY_HEAD_LEN + 44;

/// Largest payload the engine accepts (Kinesis allows 10 MiB); bounds what a corrupt length
/// field can make a reader allocate.
pub(super) const MAX_PAYLOAD: usize = 1 << 30;

pub(super) const SEG_MAGIC: [u8; 8] = *b"TRIBSEG\0";
pub(super) const IDX_MAGIC: [u8; 8] = *b"TRIBIDX\0";
pub(super) const WAL_MAGIC: [u8; 8] = *b"TRIBWAL\0";
const BATCH_MAGIC: u32 = u32::from_le_bytes(*b"TBAT");

pub(super) const KIND_FRAMES_INLINE: u8 = 1;
pub(super) const KIND_FRAMES_IN_SEGMENT: u8 = 2;
pub(super) const KIND_CREATE: u8 = 3;
pub(super) const KIND_DELETE: u8 = 4;
pub(super) const KIND_TRIM: u8 = 5;

pub(super) fn file_header(magic: [u8; 8], a: u64, b: i64) -> [u8; FILE_HEADER_LEN as usize] {
    let mut h = [0u8; FILE_HEADER_LEN as usize];
    h[..8].copy_from_slice(&magic);
    h[8..12].copy_from_slice(&SEGMENT_FORMAT_VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&a.to_le_bytes());
    h[24..32].copy_from_slice(&b.to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&h[..12]), &h[16..]);
    h[12..16].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Decodes a file header, returning `(a, b)`, or a description of what is wrong.
pub(super) fn parse_file_header(magic: [u8; 8], h: &[u8]) -> Result<(u64, i64), String> {
    if h.len() < FILE_HEADER_LEN as usize {
        return Err(format!("header too short ({} bytes)", h.len()));
    }
    if h[..8] != magic {
        return Err("bad magic (not a Tributary segment-engine file)".into());
    }
    let version = le_u32(&h[8..12]);
    if version != SEGMENT_FORMAT_VERSION {
        return Err(format!(
            "file format version {version}, this build reads {SEGMENT_FORMAT_VERSION}"
        ));
    }
    let crc = crc32c::crc32c_append(crc32c::crc32c(&h[..12]), &h[16..32]);
    if crc != le_u32(&h[12..16]) {
        return Err("header checksum mismatch".into());
    }
    Ok((le_u64(&h[16..24]), le_u64(&h[24..32]) as i64))
}

/// Appends one record frame to `buf`.
pub(super) fn encode_frame(buf: &mut Vec<u8>, offset: u64, arrival_ms: i64, payload: &[u8]) {
    let start = buf.len();
    let len = payload.len() as u32;
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&[0; 4]);
    buf.extend_from_slice(&offset.to_le_bytes());
    buf.extend_from_slice(&arrival_ms.to_le_bytes());
    buf.extend_from_slice(payload);
    let crc = crc32c::crc32c_append(crc32c::crc32c(&len.to_le_bytes()), &buf[start + 8..]);
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// The fixed part of a record frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FrameHeader {
    pub len: usize,
    pub crc: u32,
    pub offset: u64,
    pub arrival_ms: i64,
}

impl FrameHeader {
    pub fn parse(h: &[u8]) -> Self {
        Self {
            len: le_u32(&h[..4]) as usize,
            crc: le_u32(&h[4..8]),
            offset: le_u64(&h[8..16]),
            arrival_ms: le_u64(&h[16..24]) as i64,
        }
    }

    pub fn frame_len(&self) -> usize {
        FRAME_HEADER_LEN + self.len
    }

    /// Checks the checksum against the whole frame (`frame` starts at the header).
    pub fn verify(&self, frame: &[u8]) -> bool {
        let len = (self.len as u32).to_le_bytes();
        crc32c::crc32c_append(crc32c::crc32c(&len), &frame[8..self.frame_len()]) == self.crc
    }
}

/// Walks back-to-back frames in `bytes`, checking every checksum, that offsets count up from
/// `first_offset` and that every arrival time is `arrival`. Calls `each(position in bytes,
/// header)`. Returns the number of frames, or what is wrong.
pub(super) fn check_frames(
    bytes: &[u8],
    first_offset: u64,
    arrival: i64,
    mut each: impl FnMut(usize, &FrameHeader),
) -> Result<u64, String> {
    let mut pos = 0;
    let mut n = 0u64;
    while pos < bytes.len() {
        if bytes.len() - pos < FRAME_HEADER_LEN {
            return Err(format!("frame header cut at byte {pos}"));
        }
        let h = FrameHeader::parse(&bytes[pos..]);
        if h.len > MAX_PAYLOAD || bytes.len() - pos < h.frame_len() {
            return Err(format!("frame at byte {pos} overruns the piece"));
        }
        if !h.verify(&bytes[pos..]) {
            return Err(format!("frame checksum mismatch at byte {pos}"));
        }
        if h.offset != first_offset + n || h.arrival_ms != arrival {
            return Err(format!(
                "frame at byte {pos} has offset {} arrival {}, expected {} {arrival}",
                h.offset,
                h.arrival_ms,
                first_offset + n
            ));
        }
        each(pos, &h);
        pos += h.frame_len();
        n += 1;
    }
    Ok(n)
}

pub(super) fn encode_idx_entry(buf: &mut Vec<u8>, offset: u64, pos: u64, arrival_ms: i64) {
    buf.extend_from_slice(&offset.to_le_bytes());
    buf.extend_from_slice(&pos.to_le_bytes());
    buf.extend_from_slice(&arrival_ms.to_le_bytes());
}

/// `(offset, file position, arrival_ms)` of a 24-byte index entry.
pub(super) fn parse_idx_entry(e: &[u8]) -> (u64, u64, i64) {
    (
        le_u64(&e[..8]),
        le_u64(&e[8..16]),
        le_u64(&e[16..24]) as i64,
    )
}

/// Starts a WAL batch in `buf` (cleared); entries follow; [`finish_batch`] seals it.
pub(super) fn begin_batch(buf: &mut Vec<u8>) {
    buf.clear();
    buf.extend_from_slice(&[0; BATCH_HEADER_LEN + 4]);
}

/// Fills in the header of the batch in `buf` holding `count` entries.
pub(super) fn finish_batch(buf: &mut [u8], count: u32) {
    let len = (buf.len() - BATCH_HEADER_LEN) as u64;
    buf[BATCH_HEADER_LEN..BATCH_HEADER_LEN + 4].copy_from_slice(&count.to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&len.to_le_bytes()), &buf[BATCH_HEADER_LEN..]);
    buf[..4].copy_from_slice(&BATCH_MAGIC.to_le_bytes());
    buf[4..8].copy_from_slice(&crc.to_le_bytes());
    buf[8..16].copy_from_slice(&len.to_le_bytes());
}

/// Decodes a batch header: `Some((crc, body len))`, `None` if the magic is wrong.
pub(super) fn parse_batch_header(h: &[u8]) -> Option<(u32, u64)> {
    (le_u32(&h[..4]) == BATCH_MAGIC).then(|| (le_u32(&h[4..8]), le_u64(&h[8..16])))
}

pub(super) fn batch_crc_ok(crc: u32, body: &[u8]) -> bool {
    let len = (body.len() as u64).to_le_bytes();
    crc32c::crc32c_append(crc32c::crc32c(&len), body) == crc
}

/// Identifies a shard incarnation in WAL entries and directory names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Incarnation {
    pub stream: u64,
    pub shard: u32,
    pub gen: u64,
}

pub(super) fn encode_entry_head(buf: &mut Vec<u8>, kind: u8, inc: Incarnation) {
    buf.push(kind);
    buf.extend_from_slice(&inc.stream.to_le_bytes());
    buf.extend_from_slice(&inc.shard.to_le_bytes());
    buf.extend_from_slice(&inc.gen.to_le_bytes());
}

/// Where one run of frames of one shard went: one segment, contiguous bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Piece {
    pub segment_base: u64,
    pub pos: u64,
    pub first_offset: u64,
    pub count: u32,
    pub arrival_ms: i64,
    pub frames_len: u64,
}

impl Piece {
    /// Writes the entry header of this piece over `out` (exactly [`PIECE_HEADER_LEN`] bytes).
    pub fn encode_header(&self, out: &mut [u8], kind: u8, inc: Incarnation) {
        let mut v = Vec::with_capacity(PIECE_HEADER_LEN);
        encode_entry_head(&mut v, kind, inc);
        v.extend_from_slice(&self.segment_base.to_le_bytes());
        v.extend_from_slice(&self.pos.to_le_bytes());
        v.extend_from_slice(&self.first_offset.to_le_bytes());
        v.extend_from_slice(&self.count.to_le_bytes());
        v.extend_from_slice(&self.arrival_ms.to_le_bytes());
        v.extend_from_slice(&self.frames_len.to_le_bytes());
        out.copy_from_slice(&v);
    }
}

/// One decoded WAL entry. `inline` is the range of the frames inside the batch body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum WalEntry {
    Frames {
        inc: Incarnation,
        piece: Piece,
        inline: Option<Range<usize>>,
    },
    Create(Incarnation),
    Delete(Incarnation),
    Trim(Incarnation, u64),
}

/// Decodes the entries of a batch body whose checksum was verified.
pub(super) fn parse_batch_body(body: &[u8]) -> Result<Vec<WalEntry>, String> {
    let mut c = Cursor { b: body, at: 0 };
    let count = c.u32()?;
    let mut out = Vec::with_capacity(count.min(1 << 16) as usize);
    for _ in 0..count {
        let kind = c.u8()?;
        let inc = Incarnation {
            stream: c.u64()?,
            shard: c.u32()?,
            gen: c.u64()?,
        };
        out.push(match kind {
            KIND_FRAMES_INLINE | KIND_FRAMES_IN_SEGMENT => {
                let piece = Piece {
                    segment_base: c.u64()?,
                    pos: c.u64()?,
                    first_offset: c.u64()?,
                    count: c.u32()?,
                    arrival_ms: c.u64()? as i64,
                    frames_len: c.u64()?,
                };
                let inline = if kind == KIND_FRAMES_INLINE {
                    let len = usize::try_from(piece.frames_len).map_err(|_| "huge piece")?;
                    Some(c.skip(len)?)
                } else {
                    None
                };
                WalEntry::Frames { inc, piece, inline }
            }
            KIND_CREATE => WalEntry::Create(inc),
            KIND_DELETE => WalEntry::Delete(inc),
            KIND_TRIM => WalEntry::Trim(inc, c.u64()?),
            other => return Err(format!("unknown WAL entry kind {other}")),
        });
    }
    if c.at != body.len() {
        return Err(format!(
            "{} stray bytes after the entries",
            body.len() - c.at
        ));
    }
    Ok(out)
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn skip(&mut self, n: usize) -> Result<Range<usize>, String> {
        if self.b.len() - self.at < n {
            return Err("WAL entry cut short".into());
        }
        self.at += n;
        Ok(self.at - n..self.at)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.b[self.skip(1)?][0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(le_u32(&self.b[self.skip(4)?]))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(le_u64(&self.b[self.skip(8)?]))
    }
}

pub(super) fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

pub(super) fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}
