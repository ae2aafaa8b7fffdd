/**
 * A small ONNX graph builder: enough of the ONNX protobuf schema to describe float32 inference graphs
 * (nodes with int/ints/float attributes, float initializers, typed inputs and outputs) and serialise
 * them to ModelProto bytes that ONNX Runtime loads. Field numbers follow onnx/onnx.proto (IR version 8).
 */
import * as protobuf from 'protobufjs';

/**
 * An attribute value: an int, a list of ints, a float (`{ float: x }`, since JS numbers are
 * ambiguous), a list of floats (`{ floats: [...] }`) or a string (`{ string: 'relu' }`).
 */
export type OnnxAttribute = number | readonly number[] | { float: number } | { floats: readonly number[] } | { string: string };

export interface OnnxNode {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: Readonly<Record<string, OnnxAttribute>>;
  /** Operator domain, '' for the default ONNX domain. */
  domain?: string;
}

export interface OnnxInitializer {
  name: string;
  dims: readonly number[];
  data: Float32Array;
}

/** A graph input or output; string dimensions are symbolic (for example a variable batch size). */
export interface OnnxValueInfo {
  name: string;
  shape: readonly (number | string)[];
}

export interface OnnxGraphSpec {
  name: string;
  nodes: readonly OnnxNode[];
  initializers: readonly OnnxInitializer[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
  /** Default-domain opset; 17 is supported by every ONNX Runtime release this project allows. */
  opset?: number;
  producer?: string;
}

const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTRIBUTE_FLOAT = 1;
const ATTRIBUTE_INT = 2;
const ATTRIBUTE_STRING = 3;
const ATTRIBUTE_FLOATS = 6;
const ATTRIBUTE_INTS = 7;

// The subset of onnx.proto this builder writes, as a protobufjs JSON descriptor.
const ONNX_SCHEMA = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            floats: { rule: 'repeated', type: 'float', id: 7 },
            ints: { rule: 'repeated', type: 'int64', id: 8 },
            type: { type: 'int32', id: 20 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            domain: { type: 'string', id: 7 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
          },
        },
        Dimension: { fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 } } },
        TensorShapeProto: { fields: { dim: { rule: 'repeated', type: 'Dimension', id: 1 } } },
        TensorTypeProto: { fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } } },
        TypeProto: { fields: { tensorType: { type: 'TensorTypeProto', id: 1 } } },
        ValueInfoProto: { fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 } } },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
          },
        },
        OperatorSetIdProto: { fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } } },
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            producerName: { type: 'string', id: 2 },
            graph: { type: 'GraphProto', id: 7 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
          },
        },
      },
    },
  },
};

const modelProto = protobuf.Root.fromJSON(ONNX_SCHEMA).lookupType('onnx.ModelProto');

function attributeProto(name: string, value: OnnxAttribute): Record<string, unknown> {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`ONNX attribute ${name}: ${value} is not an integer; pass { float: ${value} }`);
    return { name, i: value, type: ATTRIBUTE_INT };
  }
  if ('float' in value) return { name, f: value.float, type: ATTRIBUTE_FLOAT };
  if ('floats' in value) return { name, floats: [...value.floats], type: ATTRIBUTE_FLOATS };
  if ('string' in value) return { name, s: new TextEncoder().encode(value.string), type: ATTRIBUTE_STRING };
  return { name, ints: [...value], type: ATTRIBUTE_INTS };
}

function valueInfo({ name, shape }: OnnxValueInfo): Record<string, unknown> {
  const dim = shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }));
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim } } } };
}

/** Serialises a float32 graph to ONNX ModelProto bytes. */
export function encodeOnnxModel(spec: OnnxGraphSpec): Uint8Array {
  const domains = new Set(spec.nodes.map((n) => n.domain ?? '').filter((d) => d !== ''));
  const message = modelProto.fromObject({
    irVersion: 8,
    producerName: spec.producer ?? 'ringcount',
    opsetImport: [{ domain: '', version: spec.opset ?? 17 }, ...[...domains].map((domain) => ({ domain, version: 1 }))],
    graph: {
      name: spec.name,
      node: spec.nodes.map((n, index) => ({
        name: `${n.op}_${index}`,
        opType: n.op,
        domain: n.domain ?? '',
        input: [...n.inputs],
        output: [...n.outputs],
        attribute: Object.entries(n.attributes ?? {}).map(([name, value]) => attributeProto(name, value)),
      })),
      initializer: spec.initializers.map((t) => ({
        name: t.name,
        dims: [...t.dims],
        dataType: FLOAT,
        rawData: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      })),
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
    },
  });
  return modelProto.encode(message).finish();
}
