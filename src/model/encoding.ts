// How values are encoded: msgpack of plain maps, no records, so that peers
// written in any language read the wire (protocol/frame.ts). The store bounds
// the values it keeps by the same measure (store/limits.ts).
// msgpackr/pack, not msgpackr: the same Packr without loading the optional native string
// extractor (~10 ms of every CLI start); in the daemon lmdb loads it, for these too.
import { Packr } from 'msgpackr/pack';

export const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/** Bytes `value` takes encoded (a frame's body; a value to store). */
export function encodedSize(value: unknown): number {
  return packr.pack(value).length;
}
