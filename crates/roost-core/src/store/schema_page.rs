//! The bytes of an SQLite page 1 written by hand, for the salvage of a damaged cache file
//! ([`super::salvage`]): the file's own 100-byte header (freelist fields cleared) followed by a
//! schema b-tree made of one leaf page whose entries name tables by their root pages.
//!
//! SQLite finds every table through the schema b-tree rooted at page 1. When garbage lands on
//! that b-tree's pages, every table of the file becomes unreachable although most of their pages
//! are intact. Writing a fresh schema (our own tables, at their root pages) over page 1 of a
//! throw-away copy makes them reachable again, and SQLite itself then walks each table's
//! b-tree, reporting only the pages that really are damaged. Format: <https://sqlite.org/fileformat2.html>.
//!
//! Pure byte work: no I/O here.

/// What [`schema_page`] needs of the damaged file's header.
#[derive(Debug, Clone)]
pub(super) struct FileHeader {
    raw: [u8; 100],
    pub page_size: usize,
    /// Page size minus the reserved bytes at the end of each page.
    pub usable: usize,
    /// The largest root page (auto-vacuum files only; 0 otherwise): in such a file every page
    /// from 3 to here, ptrmap pages excepted, is the root of a table or index.
    pub largest_root: u32,
}

const MAGIC: &[u8; 16] = b"SQLite format 3\0";

impl FileHeader {
    /// `None` when the first 100 bytes are not an SQLite header (nothing can be found then).
    pub fn parse(bytes: &[u8]) -> Option<FileHeader> {
        let raw: [u8; 100] = bytes.get(..100)?.try_into().ok()?;
        if &raw[..16] != MAGIC {
            return None;
        }
        let page_size = match u16::from_be_bytes([raw[16], raw[17]]) {
            1 => 65_536,
            n if n >= 512 && n.is_power_of_two() => n as usize,
            _ => return None,
        };
        let usable = page_size.checked_sub(raw[20] as usize)?;
        if usable < 480 {
            return None;
        }
        Some(FileHeader {
            raw,
            page_size,
            usable,
            largest_root: be32(&raw[52..56]),
        })
    }

    /// Pages that may be table roots in an auto-vacuum file: 3..=largest root, without the
    /// pointer-map pages and the lock-byte page.
    pub fn root_candidates(&self) -> Vec<u32> {
        let per_ptrmap = (self.usable / 5) as u32 + 1;
        let lock_page = (0x4000_0000 / self.page_size) as u32 + 1;
        (3..=self.largest_root)
            .filter(|&p| (p - 2) % per_ptrmap != 0 && p != lock_page)
            .collect()
    }
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// An SQLite varint (big-endian groups of 7 bits, at most 9 bytes; values here are small).
fn put_varint(out: &mut Vec<u8>, value: u64) {
    debug_assert!(value < 1 << 56);
    let mut groups = Vec::new();
    let mut v = value;
    loop {
        groups.push((v & 0x7f) as u8);
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    for (i, g) in groups.iter().rev().enumerate() {
        out.push(if i + 1 < groups.len() { g | 0x80 } else { *g });
    }
}

/// One schema row: `('table', name, name, root, sql)` as an SQLite record.
fn schema_record(name: &str, root: u32, sql: &str) -> Vec<u8> {
    let texts = [b"table".as_slice(), name.as_bytes(), name.as_bytes()];
    let mut types = Vec::new();
    for t in texts {
        put_varint(&mut types, 13 + 2 * t.len() as u64);
    }
    types.push(4); // a 32-bit big-endian integer
    put_varint(&mut types, 13 + 2 * sql.len() as u64);
    let mut header = Vec::new();
    // The header's length counts itself: one byte while it stays under 128.
    put_varint(&mut header, types.len() as u64 + 1);
    header.extend(types);
    debug_assert!(header.len() < 128);
    for t in texts {
        header.extend_from_slice(t);
    }
    header.extend_from_slice(&(root as i32).to_be_bytes());
    header.extend_from_slice(sql.as_bytes());
    header
}

/// Page 1 holding `header` and a schema leaf with one `CREATE TABLE` per entry
/// `(name, root page, sql)`. `None` when the entries do not fit on one page (the caller then
/// uses fewer entries per page).
pub(super) fn schema_page(
    header: &FileHeader,
    entries: &[(String, u32, String)],
) -> Option<Vec<u8>> {
    let mut page = vec![0u8; header.page_size];
    page[..100].copy_from_slice(&header.raw);
    // No freelist: nothing will be written, and a damaged freelist must not matter.
    page[32..40].fill(0);
    // The cache is UTF-8 (the records below are).
    page[56..60].copy_from_slice(&1u32.to_be_bytes());
    let max_local = header.usable - 35; // a table leaf cell's largest payload kept on its page
    let mut cells = Vec::new();
    for (i, (name, root, sql)) in entries.iter().enumerate() {
        let record = schema_record(name, *root, sql);
        if record.len() > max_local {
            return None;
        }
        let mut cell = Vec::new();
        put_varint(&mut cell, record.len() as u64);
        put_varint(&mut cell, i as u64 + 1); // rowid
        cell.extend(record);
        cells.push(cell);
    }
    let pointers_end = 108 + 2 * cells.len();
    let mut content_start = header.usable;
    let mut pointers = Vec::new();
    for cell in &cells {
        content_start = content_start.checked_sub(cell.len())?;
        if content_start < pointers_end {
            return None;
        }
        page[content_start..content_start + cell.len()].copy_from_slice(cell);
        pointers.push(content_start as u16);
    }
    page[100] = 0x0D; // a table b-tree leaf
    page[101..103].fill(0); // no freeblock
    page[103..105].copy_from_slice(&(cells.len() as u16).to_be_bytes());
    // 0 stands for 65,536 (a 64 KiB page with no cells).
    page[105..107].copy_from_slice(&(content_start as u32 as u16).to_be_bytes());
    page[107] = 0;
    for (i, p) in pointers.iter().enumerate() {
        page[108 + 2 * i..110 + 2 * i].copy_from_slice(&p.to_be_bytes());
    }
    Some(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_the_file_format() {
        let enc = |v| {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            out
        };
        assert_eq!(enc(0), [0]);
        assert_eq!(enc(127), [0x7f]);
        assert_eq!(enc(128), [0x81, 0x00]);
        assert_eq!(enc(16_383), [0xff, 0x7f]);
        assert_eq!(enc(16_384), [0x81, 0x80, 0x00]);
    }

    #[test]
    fn roots_skip_pointer_map_pages() {
        let mut raw = [0u8; 100];
        raw[..16].copy_from_slice(MAGIC);
        raw[16..18].copy_from_slice(&512u16.to_be_bytes());
        raw[52..56].copy_from_slice(&110u32.to_be_bytes());
        let header = FileHeader::parse(&raw).unwrap();
        // 512-byte pages: a ptrmap page every 103 pages (2, 105, …).
        let roots = header.root_candidates();
        assert_eq!(roots.first(), Some(&3));
        assert!(!roots.contains(&105));
        assert_eq!(roots.len(), 110 - 2 - 1);
        assert!(FileHeader::parse(b"not a database").is_none());
    }

    #[test]
    fn entries_that_do_not_fit_are_refused() {
        let mut raw = [0u8; 100];
        raw[..16].copy_from_slice(MAGIC);
        raw[16..18].copy_from_slice(&4096u16.to_be_bytes());
        let header = FileHeader::parse(&raw).unwrap();
        let sql = format!("CREATE TABLE t({})", "x,".repeat(200) + "y");
        let one = vec![("t".to_owned(), 3, sql.clone())];
        assert!(schema_page(&header, &one).is_some());
        let many: Vec<_> = (0..20)
            .map(|i| (format!("t{i}"), 3 + i, sql.clone()))
            .collect();
        assert!(schema_page(&header, &many).is_none());
    }
}
