package stomp

// Command names, as they appear on the wire (commands are case-sensitive).
const (
	CmdConnect     = "CONNECT"
	CmdStomp       = "STOMP"
	CmdConnected   = "CONNECTED"
	CmdSend        = "SEND"
	CmdSubscribe   = "SUBSCRIBE"
	CmdUnsubscribe = "UNSUBSCRIBE"
	CmdAck         = "ACK"
	CmdNack        = "NACK"
	CmdBegin       = "BEGIN"
	CmdCommit      = "COMMIT"
	CmdAbort       = "ABORT"
	CmdDisconnect  = "DISCONNECT"
	CmdMessage     = "MESSAGE"
	CmdReceipt     = "RECEIPT"
	CmdError       = "ERROR"
)

// Header names the gateway reads or writes itself (header names are case-sensitive).
const (
	HdrContentLength = "content-length"
	HdrContentType   = "content-type"
	HdrReceipt       = "receipt"
	HdrReceiptID     = "receipt-id"
	HdrDestination   = "destination"
	HdrID            = "id"
	HdrAck           = "ack"
	HdrMessageID     = "message-id"
	HdrSubscription  = "subscription"
	HdrTransaction   = "transaction"
	HdrAcceptVersion = "accept-version"
	HdrHost          = "host"
	HdrLogin         = "login"
	HdrPasscode      = "passcode"
	HdrHeartBeat     = "heart-beat"
	HdrVersion       = "version"
	HdrSession       = "session"
	HdrServer        = "server"
	HdrMessage       = "message"
	HdrUserName      = "user-name"
	HdrRedelivered   = "redelivered"
)
