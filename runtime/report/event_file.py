"""A TensorBoard event file written without TensorFlow: the ``Event`` protocol buffers TensorBoard reads, in
TFRecord framing.

The views are written by a process of their own after the script ends (``views.py``); importing TensorFlow
for its protocol buffer classes and record writer cost that process about 6 s of CPU, most of what it spent
writing the TensorBoard events of a corpus case (8-9 s; 2.6 s without TensorFlow). Here the messages are built with the ``protobuf`` package (TensorFlow's dependency) from a descriptor
of the few fields the views write, with TensorFlow's field numbers, so the bytes are those TensorFlow's classes
write (``tests/test_tensorboard.py`` parses them with TensorFlow's own ``event_pb2``, and reads the files with
its record reader, which checks every checksum).

TFRecord framing, per record: its length (uint64, little-endian), the masked CRC-32C of those 8 bytes, the data,
the masked CRC-32C of the data. The checksums of all the records of a file are computed together, one numpy
step per byte position across the records (``crc32c``).
"""

import numpy as np

#: protobuf's type numbers (``FieldDescriptorProto.Type``) and labels
_DOUBLE, _FLOAT, _INT64, _INT32, _STRING, _MESSAGE, _BYTES = 1, 2, 3, 5, 9, 11, 12
_OPTIONAL, _REPEATED = 1, 3
DT_FLOAT, DT_STRING = 1, 7  # TensorFlow's DataType

#: message (a nested one after its outer one) -> its fields as (name, number, type, label, message type);
#: TensorFlow's names and numbers
#: (tensorflow/core/util/event.proto, framework/summary.proto, tensor.proto, tensor_shape.proto)
_FIELDS = {
    "TensorShapeProto": [("dim", 2, _MESSAGE, _REPEATED, "TensorShapeProto.Dim")],
    "TensorShapeProto.Dim": [("size", 1, _INT64, _OPTIONAL, None)],
    "TensorProto": [
        ("dtype", 1, _INT32, _OPTIONAL, None),  # an enum in TensorFlow's file: the same varint on the wire
        ("tensor_shape", 2, _MESSAGE, _OPTIONAL, "TensorShapeProto"),
        ("tensor_content", 4, _BYTES, _OPTIONAL, None),
        ("float_val", 5, _FLOAT, _REPEATED, None),  # packed, as proto3 and TensorFlow's [packed = true]
        ("string_val", 8, _BYTES, _REPEATED, None),
    ],
    "SummaryMetadata": [("plugin_data", 1, _MESSAGE, _OPTIONAL, "SummaryMetadata.PluginData")],
    "SummaryMetadata.PluginData": [("plugin_name", 1, _STRING, _OPTIONAL, None)],
    "Summary": [("value", 1, _MESSAGE, _REPEATED, "Summary.Value")],
    "Summary.Value": [
        ("tag", 1, _STRING, _OPTIONAL, None),
        ("tensor", 8, _MESSAGE, _OPTIONAL, "TensorProto"),
        ("metadata", 9, _MESSAGE, _OPTIONAL, "SummaryMetadata"),
    ],
    "Event": [
        ("wall_time", 1, _DOUBLE, _OPTIONAL, None),
        ("step", 2, _INT64, _OPTIONAL, None),
        ("file_version", 3, _STRING, _OPTIONAL, None),
        ("summary", 5, _MESSAGE, _OPTIONAL, "Summary"),
    ],
}
_PACKAGE = "dnn_instrument.tensorboard"


def _classes():
    """``{name: message class}`` for ``_FIELDS``, in a descriptor pool of their own."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    file = descriptor_pb2.FileDescriptorProto(name="dnn_instrument/event.proto", package=_PACKAGE, syntax="proto3")
    declared = {}
    for name, fields in _FIELDS.items():
        outer, _, inner = name.rpartition(".")
        message = (declared[outer].nested_type if outer else file.message_type).add(name=inner)
        declared[name] = message
        for field, number, kind, label, type_name in fields:
            message.field.add(
                name=field,
                number=number,
                type=kind,
                label=label,
                type_name=f".{_PACKAGE}.{type_name}" if type_name else None,
            )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)

    def message_class(name):
        descriptor = pool.FindMessageTypeByName(f"{_PACKAGE}.{name}")
        if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.21
            return message_factory.GetMessageClass(descriptor)
        return message_factory.MessageFactory(pool).GetPrototype(descriptor)

    return {name: message_class(name) for name in _FIELDS}


_messages = None


def messages():
    """The message classes, by TensorFlow's names (``messages()["Summary.Value"]``), built once."""
    global _messages
    if _messages is None:
        _messages = _classes()
    return _messages


def _crc_table():
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0x82F63B78), table >> 1).astype(np.uint32)
    return table


_CRC_TABLE = _crc_table()
_CRC_BATCH_BYTES = 1 << 24  # the padded block of records checksummed at once


def crc32c(records):
    """The CRC-32C (Castagnoli) of each byte string of ``records`` (each at least 4 bytes), as a uint32 array.

    The records are right-aligned in one zero-padded block and the table-driven update runs over its columns,
    for all records at once. Leading zeros leave a zero register unchanged, and starting from zero with the
    first four bytes inverted is the same as starting from the all-ones register, so the padding does not
    change any record's checksum."""
    out = np.empty(len(records), np.uint32)
    order = sorted(range(len(records)), key=lambda i: len(records[i]))  # batches of records of similar length
    start = 0
    while start < len(order):
        end = start + 1  # at least one record, however long
        while end < len(order) and (end - start + 1) * len(records[order[end]]) <= _CRC_BATCH_BYTES:
            end += 1
        batch = order[start:end]
        width = len(records[batch[-1]])
        block = np.zeros((len(batch), width), np.uint8)
        for row, index in enumerate(batch):
            data = records[index]
            if len(data) < 4:
                raise ValueError("crc32c: a record of fewer than 4 bytes")
            first = width - len(data)
            block[row, first:] = np.frombuffer(data, np.uint8)
            block[row, first : first + 4] ^= 0xFF
        register = np.zeros(len(batch), np.uint32)
        for column in block.T:
            register = _CRC_TABLE[(register ^ column) & 0xFF] ^ (register >> 8)
        out[batch] = register ^ np.uint32(0xFFFFFFFF)
        start = end
    return out


def _masked(crc):
    crc = crc.astype(np.uint64)
    return ((((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF).astype("<u4")


def write_records(path, records):
    """Write ``records`` (bytes) to ``path`` in TFRecord framing."""
    lengths = [np.uint64(len(data)).astype("<u8").tobytes() for data in records]
    length_crcs, data_crcs = _masked(crc32c(lengths)), _masked(crc32c(records))
    with open(path, "wb") as f:
        for length, length_crc, data, data_crc in zip(lengths, length_crcs, records, data_crcs):
            f.write(length + length_crc.tobytes() + data + data_crc.tobytes())
