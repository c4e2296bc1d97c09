export { SynodClient, type ResolvedBy, type TransactionResult, type TxnStatus, type ReplyBody } from './client.js';
