/**
 * How values are encoded (every named database inherits it): plain MessagePack maps, decoded as
 * objects. lmdb-js's default is msgpackr's record extension without shared structures, which
 * writes each object shape's key list into every value and builds a record definition on every
 * encode and decode: 2-5x slower for our small records (a version, the meta record, an outcome).
 * Values written that way by earlier versions still decode to the same objects (storage.test.ts).
 * The write-ahead log encodes its records the same way (wal.ts), so a record read back decodes to
 * the objects LMDB would have returned. No value we store holds a Map (records mode would give
 * one back as a Map, this one as an object).
 */
export const VALUE_ENCODING = { useRecords: false, mapsAsObjects: true } as const;
