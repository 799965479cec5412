// onnx_proto.cpp - decoding ONNX's ModelProto (see onnx_proto.h) with the
// wire reader. One function per message; each knows its field numbers
// from onnx.proto and skips the rest.
#include "onnx/onnx_proto.h"

#include <cstring>

#include "dmc/error.h"
#include "onnx/protobuf_reader.h"

namespace dmc::onnx {

using pb::Field;
using pb::MessageReader;
using pb::WireType;

std::string quote(const std::string &name) { return "'" + printable(name) + "'"; }

std::string printable(const std::string &name) {
    static const char *hex = "0123456789abcdef";
    std::string out;
    size_t shown = 0;
    for (char c : name) {
        if (shown++ == 100) {
            out += "...";
            break;
        }
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f || c == '\\') {
            out += c == '\\' ? std::string("\\\\") : std::string("\\x") + hex[u >> 4] + hex[u & 15];
        } else {
            out += c;
        }
    }
    return out;
}

int64_t Tensor::count() const {
    int64_t n = 1;
    for (int64_t d : dims) n *= d; // parse_onnx bounded the product
    return n;
}

const Attribute *Node::find(const std::string &attribute) const {
    for (const Attribute &a : attributes)
        if (a.name == attribute) return &a;
    return nullptr;
}

namespace {

std::string text(const MessageReader &r, const Field &f, const char *name) {
    if (f.type == WireType::Len && f.size > kMaxNameBytes)
        r.fail(std::string(name) + " is " + std::to_string(f.size) + " bytes long (at most " +
               std::to_string(kMaxNameBytes) + ")");
    return r.bytes(f, name);
}

void count_check(const MessageReader &r, size_t size, size_t max, const char *what) {
    if (size >= max) r.fail("more than " + std::to_string(max) + " " + what);
}

// What the whole file may still hold, so that many small items (each a few
// bytes of input but a string or struct in memory) add up to a bounded
// amount: items are nodes, names, attributes, tensors and dimensions.
struct Budget {
    int64_t items = kMaxItems;
    int64_t int64_values = kMaxInt64Values; // int64_data and ints: 1 byte in, 8 in memory
    int64_t elements = kMaxTotalElements;   // decoded tensor values, all tensors together

    void item(const MessageReader &r) {
        if (--items < 0) r.fail("more than " + std::to_string(kMaxItems) + " nodes, names and attributes in all");
    }
};

void append_int64s(const MessageReader &r, const Field &f, const char *name, std::vector<int64_t> *out,
                   size_t max_count, Budget *b) {
    const size_t before = out->size();
    r.append_int64s(f, name, out, max_count);
    b->int64_values -= int64_t(out->size() - before);
    if (b->int64_values < 0)
        r.fail("more than " + std::to_string(kMaxInt64Values) + " int64 values in all (int64 data is for shapes)");
}

// The elements its dims promise, refusing a negative dimension or a product
// past kMaxTensorElements before anything of that size is allocated.
int64_t checked_count(const MessageReader &r, const Tensor &t) {
    int64_t n = 1;
    for (int64_t d : t.dims) {
        if (d < 0) r.fail("tensor " + quote(t.name) + " has a negative dimension " + std::to_string(d));
        if (d != 0 && n > kMaxTensorElements / d)
            r.fail("tensor " + quote(t.name) + " has more than " + std::to_string(kMaxTensorElements) +
                   " elements (its dimensions are too large)");
        n *= d;
    }
    return n;
}

// Little-endian raw_data into floats or int64s, after checking its size.
void decode_raw(const MessageReader &r, Tensor *t, const Field &raw, int64_t count) {
    const size_t width = t->data_type == kFloat ? 4 : 8;
    if (raw.size != size_t(count) * width)
        r.fail("tensor " + quote(t->name) + " has " + std::to_string(raw.size) + " bytes of raw_data but its shape " +
               "needs " + std::to_string(count) + " values of " + std::to_string(width) + " bytes");
    const auto *b = reinterpret_cast<const unsigned char *>(raw.data);
    for (int64_t i = 0; i < count; ++i, b += width) {
        uint64_t bits = 0;
        for (size_t k = width; k-- > 0;) bits = bits << 8 | b[k];
        if (width == 4) {
            const uint32_t b32 = uint32_t(bits);
            float v;
            std::memcpy(&v, &b32, 4);
            t->floats.push_back(v);
        } else {
            t->ints.push_back(int64_t(bits));
        }
    }
}

Tensor parse_tensor(MessageReader r, Budget *b) {
    b->item(r);
    Tensor t;
    Field f, raw;
    bool has_raw = false, external = false;
    while (r.next(&f)) {
        switch (f.number) {
        case 1: r.append_int64s(f, "dims", &t.dims, kMaxRank); break;
        case 2: t.data_type = int(r.int_in(f, "data_type", 0, 1000)); break;
        case 4: r.append_floats(f, "float_data", &t.floats, size_t(kMaxTensorElements)); break;
        case 7: append_int64s(r, f, "int64_data", &t.ints, size_t(kMaxTensorElements), b); break;
        case 8: t.name = text(r, f, "name"); break;
        case 9:
            if (f.type != WireType::Len) r.fail("raw_data has wire type " + std::string(pb::wire_type_name(f.type)));
            raw = f;
            has_raw = true;
            break;
        case 13: external = true; break;
        case 14: external = external || r.int64(f, "data_location") == 1; break;
        default: break;
        }
    }
    if (external)
        r.fail("tensor " + quote(t.name) + " keeps its data in an external file (external_data), which the "
               "importer does not read: save the model as one file (onnx.save(model, path, "
               "save_as_external_data=False))");
    const int64_t count = checked_count(r, t);
    if (t.data_type != kFloat && t.data_type != kInt64) return t; // refused if the importer needs it
    b->elements -= count;
    if (b->elements < 0)
        r.fail("the tensors hold more than " + std::to_string(kMaxTotalElements) + " values in all");
    if (has_raw && !(t.floats.empty() && t.ints.empty()))
        r.fail("tensor " + quote(t.name) + " has both raw_data and typed data");
    if (has_raw) {
        decode_raw(r, &t, raw, count);
    } else {
        const size_t have = t.data_type == kFloat ? t.floats.size() : t.ints.size();
        if (int64_t(have) != count)
            r.fail("tensor " + quote(t.name) + " has " + std::to_string(have) + " values but its shape needs " +
                   std::to_string(count));
    }
    if (t.data_type == kFloat && !t.ints.empty())
        r.fail("tensor " + quote(t.name) + " is FLOAT but holds int64_data");
    if (t.data_type == kInt64 && !t.floats.empty())
        r.fail("tensor " + quote(t.name) + " is INT64 but holds float_data");
    t.decoded = true;
    return t;
}

Attribute parse_attribute(MessageReader r, Budget *b) {
    b->item(r);
    Attribute a;
    Field f;
    while (r.next(&f)) {
        switch (f.number) {
        case 1: a.name = text(r, f, "name"); break;
        case 20: a.type = int(r.int_in(f, "type", 0, 100)); break;
        case 2: a.f = r.float32(f, "f"); break;
        case 3: a.i = r.int64(f, "i"); break;
        case 4: a.s = text(r, f, "s"); break;
        case 5:
            a.t = parse_tensor(r.nested(f, r.where() + ".t"), b);
            a.has_tensor = true;
            break;
        case 7: r.append_floats(f, "floats", &a.floats, kMaxAttributeValues); break;
        case 8: append_int64s(r, f, "ints", &a.ints, kMaxAttributeValues, b); break;
        default: break; // subgraphs and the rest: the importer refuses ops that have them
        }
    }
    return a;
}

Node parse_node(MessageReader r, Budget *b) {
    b->item(r);
    Node n;
    Field f;
    while (r.next(&f)) {
        switch (f.number) {
        case 1:
            count_check(r, n.inputs.size(), kMaxNodeArity, "inputs");
            b->item(r);
            n.inputs.push_back(text(r, f, "input"));
            break;
        case 2:
            count_check(r, n.outputs.size(), kMaxNodeArity, "outputs");
            b->item(r);
            n.outputs.push_back(text(r, f, "output"));
            break;
        case 3: n.name = text(r, f, "name"); break;
        case 4: n.op_type = text(r, f, "op_type"); break;
        case 7: n.domain = text(r, f, "domain"); break;
        case 5:
            count_check(r, n.attributes.size(), kMaxNodeArity, "attributes");
            n.attributes.push_back(
                parse_attribute(r.nested(f, r.where() + ".attribute[" + std::to_string(n.attributes.size()) + "]"), b));
            break;
        default: break;
        }
    }
    return n;
}

Dim parse_dim(MessageReader r, Budget *b) {
    b->item(r);
    Dim d;
    Field f;
    while (r.next(&f)) {
        if (f.number == 1) {
            d.value = r.int64(f, "dim_value");
            d.known = true;
        } else if (f.number == 2) {
            d.param = text(r, f, "dim_param");
        }
    }
    return d;
}

// TypeProto.tensor_type (TypeProto.Tensor): element type and shape.
void parse_tensor_type(MessageReader r, Budget *b, ValueInfo *v) {
    v->is_tensor = true;
    Field f;
    while (r.next(&f)) {
        if (f.number == 1) {
            v->elem_type = int(r.int_in(f, "elem_type", 0, 1000));
        } else if (f.number == 2) {
            v->has_shape = true;
            MessageReader shape = r.nested(f, r.where() + ".shape");
            Field d;
            while (shape.next(&d)) {
                if (d.number != 1) continue;
                if (v->dims.size() >= size_t(kMaxRank))
                    shape.fail("more than " + std::to_string(kMaxRank) + " dimensions");
                v->dims.push_back(parse_dim(shape.nested(d, shape.where() + ".dim"), b));
            }
        }
    }
}

ValueInfo parse_value_info(MessageReader r, Budget *b) {
    b->item(r);
    ValueInfo v;
    Field f;
    while (r.next(&f)) {
        if (f.number == 1) {
            v.name = text(r, f, "name");
        } else if (f.number == 2) {
            MessageReader type = r.nested(f, r.where() + ".type");
            Field t;
            while (type.next(&t))
                if (t.number == 1) parse_tensor_type(type.nested(t, type.where() + ".tensor_type"), b, &v);
        }
    }
    return v;
}

std::string indexed(const MessageReader &r, const char *what, size_t index) {
    return r.where() + "." + what + "[" + std::to_string(index) + "]";
}

Graph parse_graph(MessageReader r, Budget *b) {
    Graph g;
    Field f;
    while (r.next(&f)) {
        switch (f.number) {
        case 1:
            count_check(r, g.nodes.size(), kMaxNodes, "nodes");
            g.nodes.push_back(parse_node(r.nested(f, indexed(r, "node", g.nodes.size())), b));
            break;
        case 2: g.name = text(r, f, "name"); break;
        case 5:
            count_check(r, g.initializers.size(), kMaxNodes, "initializers");
            g.initializers.push_back(parse_tensor(r.nested(f, indexed(r, "initializer", g.initializers.size())), b));
            break;
        case 11:
            count_check(r, g.inputs.size(), kMaxNodes, "inputs");
            g.inputs.push_back(parse_value_info(r.nested(f, indexed(r, "input", g.inputs.size())), b));
            break;
        case 12:
            count_check(r, g.outputs.size(), kMaxNodes, "outputs");
            g.outputs.push_back(parse_value_info(r.nested(f, indexed(r, "output", g.outputs.size())), b));
            break;
        case 15: r.fail("the graph has sparse initializers, which the importer does not read");
        default: break;
        }
    }
    return g;
}

std::pair<std::string, int64_t> parse_opset(MessageReader r, Budget *b) {
    b->item(r);
    std::pair<std::string, int64_t> opset{"", 0};
    Field f;
    while (r.next(&f)) {
        if (f.number == 1) opset.first = text(r, f, "domain");
        else if (f.number == 2) opset.second = r.int64(f, "version");
    }
    return opset;
}

} // namespace

ModelProto parse_onnx(const std::string &bytes) {
    ModelProto m;
    Budget budget;
    Budget *b = &budget;
    MessageReader r(bytes, "model");
    Field f;
    while (r.next(&f)) {
        switch (f.number) {
        case 1: m.ir_version = r.int64(f, "ir_version"); break;
        case 2: m.producer_name = text(r, f, "producer_name"); break;
        case 3: m.producer_version = text(r, f, "producer_version"); break;
        case 7:
            if (m.has_graph) r.fail("more than one graph");
            m.graph = parse_graph(r.nested(f, "graph"), b);
            m.has_graph = true;
            break;
        case 8:
            count_check(r, m.opsets.size(), 64, "opset imports");
            m.opsets.push_back(parse_opset(r.nested(f, "model.opset_import"), b));
            break;
        default: break;
        }
    }
    if (!m.has_graph) r.fail("no graph (this is not an ONNX model file)");
    return m;
}

} // namespace dmc::onnx
