// Run an AG-UI endpoint with the protocol's own client and print what it reconstructed.
//
//   node agui-client.mjs URL [INPUT_JSON]
//
// INPUT_JSON is a (partial) RunAgentInput: threadId, runId, messages, state, tools,
// context, forwardedProps, resume. `HttpAgent` POSTs it as JSON and parses the SSE reply itself;
// the agent's own pipeline (enforce -> chunk transform -> verify -> apply) rebuilds
// messages and state (JSON Patch deltas included). Every event as it came off the wire
// is also checked against @ag-ui/core's zod `EventSchemas`.
//
// Prints ONE JSON object on stdout (see README.md). Exit code 0 whenever the run could be
// attempted -- failures the client reports are in "client_error"; 2 on bad arguments.

import { HttpAgent } from "@ag-ui/client";
import { EventSchemas } from "@ag-ui/core/schemas";
import { tap } from "rxjs";

const [url, inputJson] = process.argv.slice(2);
if (!url) {
  process.stderr.write("usage: node agui-client.mjs URL [INPUT_JSON]\n");
  process.exit(2);
}
const input = inputJson ? JSON.parse(inputJson) : {};

// The client reports protocol problems it tolerates (stripped fields, dropped events,
// patches that failed to apply) through console.warn / console.error: collect them.
const warnings = [];
for (const level of ["warn", "error"]) {
  const original = console[level].bind(console);
  console[level] = (...args) => {
    warnings.push(
      args.map((a) => (a instanceof Error ? a.message : typeof a === "string" ? a : JSON.stringify(a))).join(" "),
    );
    original(...args);
  };
}

const raw = []; // events exactly as the client's SSE parser produced them
const applied = []; // event types the agent applied, after its own transforms
const custom = [];
let runError = null;
let contentType = null;

// HttpAgent.run() is the library's POST + SSE parse; everything after it (compat
// translation, enforce, chunk transform, verify, apply) is the agent's own pipeline.
class RecordingAgent extends HttpAgent {
  run(runInput) {
    return super.run(runInput).pipe(tap((event) => raw.push(event)));
  }
}

const agent = new RecordingAgent({
  url,
  threadId: input.threadId,
  initialMessages: input.messages ?? [],
  initialState: input.state ?? {},
  // Record the response's content type; otherwise the library's default fetch.
  fetch: async (target, init) => {
    const response = await fetch(target, init);
    contentType = response.headers.get("content-type");
    return response;
  },
});
let clientError = null;
try {
  await agent.runAgent(
    {
      runId: input.runId,
      tools: input.tools,
      context: input.context,
      forwardedProps: input.forwardedProps,
      // AG-UI 1.0: answers to the interrupts that ended the previous run.
      resume: input.resume,
    },
    {
      onEvent: ({ event }) => {
        applied.push(event.type);
      },
      onCustomEvent: ({ event }) => {
        custom.push({ name: event.name, value: event.value });
      },
      onRunErrorEvent: ({ event }) => {
        runError = event.message;
      },
    },
  );
} catch (error) {
  clientError = error instanceof Error ? error.message : String(error);
}

const rawInvalid = [];
for (const event of raw) {
  const result = EventSchemas.safeParse(event);
  if (!result.success) {
    rawInvalid.push({
      event,
      issues: result.error.issues.map((i) => ({ path: i.path, message: i.message })),
    });
  }
}

const finished = raw.find((e) => e?.type === "RUN_FINISHED");
const output = {
  events: raw.map((e) => e?.type ?? null),
  // RUN_FINISHED's outcome as sent ({type: "success" | "interrupt" | ..., interrupts?}).
  outcome: finished?.outcome ?? null,
  // What the client still waits to be answered (AG-UI 1.0's agent.pendingInterrupts).
  pending_interrupts: agent.pendingInterrupts ?? [],
  applied,
  messages: agent.messages,
  state: agent.state,
  error: runError,
  custom,
  raw_invalid: rawInvalid,
  client_error: clientError,
  warnings,
  content_type: contentType,
};
process.stdout.write(`${JSON.stringify(output)}\n`);
