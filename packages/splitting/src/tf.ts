/**
 * The one TF.js core copy mitosis uses, from the engine (which also registers the gradients and backends).
 */
export { tf } from '@mitosis/engine';
