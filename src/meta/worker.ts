/**
 * Worker process of buildMeta (forked from dist/meta/worker.js): receives one zoo model at a time,
 * builds its rows, streams progress events back, and exits when told.
 */
import { buildModelRows, type WorkerReply, type WorkerRequest } from './build.js';

function send(msg: WorkerReply): void {
  process.send?.(msg);
}

let exitRequested = false;
// Without an exit request the parent died or was killed: stop at the next await instead of
// training on as an orphan.
process.on('disconnect', () => process.exit(exitRequested ? 0 : 130));

process.on('message', (msg: WorkerRequest) => {
  if (msg.type === 'exit') {
    // A second exit request is a no-op: disconnecting twice throws ERR_IPC_DISCONNECTED.
    // The disconnect waits for the current message's delivery to end: disconnecting inside the handler while another
    // message is queued crashes inside Node (its channel is gone when the queue is flushed).
    if (exitRequested) return;
    exitRequested = true;
    setImmediate(() => { if (process.connected) process.disconnect?.(); });
    return;
  }
  buildModelRows(msg.model, msg.options, (event) => send({ type: 'event', event }))
    .then((r) => send({ type: 'result', index: msg.index, info: r.info, data: r.data }))
    .catch((err: Error) => send({ type: 'error', index: msg.index, message: err.message, stack: err.stack }));
});
