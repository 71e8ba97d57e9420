// The protobuf messages of a TensorBoard event file: our transcription of the fields we
// use from TensorFlow's public schema (tensorflow/core/util/event.proto and
// tensorflow/core/framework/summary.proto; names, numbers and types as there), compiled at
// load time by protobufjs. Fields we never write are left out; readers skip nothing they
// need, since protobuf readers ignore absent fields.

import protobuf from 'protobufjs';

/** proto3 text, package `tensorflow`, as TensorBoard's readers expect. */
export const TENSORBOARD_PROTO = `
syntax = "proto3";
package tensorflow;

message Event {
  double wall_time = 1;   // seconds since the epoch
  int64 step = 2;
  oneof what {
    string file_version = 3;   // "brain.Event:2", the first event of every file
    bytes graph_def = 4;
    Summary summary = 5;
  }
}

message Summary {
  message Image {
    int32 height = 1;
    int32 width = 2;
    int32 colorspace = 3;              // 1 grayscale, 2 grayscale+alpha, 3 RGB, 4 RGBA
    bytes encoded_image_string = 4;    // PNG (or JPEG) file bytes
  }
  message Value {
    string node_name = 7;
    string tag = 1;
    oneof value {
      float simple_value = 2;
      Image image = 4;
    }
  }
  repeated Value value = 1;
}
`;

/** One Summary.Value: a scalar or an image under a tag. */
export type SummaryValue = { tag: string; simple_value: number } | { tag: string; image: SummaryImage };

export interface SummaryImage {
  height: number;
  width: number;
  colorspace: number;
  encoded_image_string: Uint8Array;
}

/** An Event with exactly one of file_version / summary set. */
export type EventMessage =
  | { wall_time: number; step: number; file_version: string }
  | { wall_time: number; step: number; summary: { value: SummaryValue[] } };

let eventType: protobuf.Type | null = null;

/** The compiled tensorflow.Event type (field names kept as in the .proto). */
export function eventMessageType(): protobuf.Type {
  eventType ??= protobuf.parse(TENSORBOARD_PROTO, { keepCase: true }).root.lookupType('tensorflow.Event');
  return eventType;
}

/** Serialised bytes of one Event. */
export function encodeEvent(event: EventMessage): Uint8Array {
  const type = eventMessageType();
  return type.encode(type.fromObject(event)).finish();
}
