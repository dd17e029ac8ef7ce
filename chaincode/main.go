// Command chaincode runs the Tiezheng checkpoint contract as a chaincode service (chaincode as a service):
// it listens on CHAINCODE_SERVER_ADDRESS as CHAINCODE_ID, with TLS when CHAINCODE_TLS_CERT_FILE and
// CHAINCODE_TLS_KEY_FILE are set (and client authentication when CHAINCODE_TLS_CLIENT_CA_FILE is set too).
// Without CHAINCODE_SERVER_ADDRESS it starts the classic way, dialling the peer that launched it.
package main

import (
	"log"
	"os"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/tiezheng/chaincode/checkpoints"
)

func main() {
	cc, err := contractapi.NewChaincode(checkpoints.NewContract())
	if err != nil {
		log.Fatalf("creating the checkpoint chaincode: %v", err)
	}
	address := os.Getenv("CHAINCODE_SERVER_ADDRESS")
	if address == "" {
		err = cc.Start()
	} else {
		err = serve(cc, address)
	}
	if err != nil {
		log.Fatalf("running the checkpoint chaincode: %v", err)
	}
}

// serve runs cc as a chaincode service on address.
func serve(cc *contractapi.ContractChaincode, address string) error {
	tls, err := tlsProperties()
	if err != nil {
		return err
	}
	server := &shim.ChaincodeServer{CCID: os.Getenv("CHAINCODE_ID"), Address: address, CC: cc, TLSProps: tls}
	log.Printf("checkpoint chaincode %s listening on %s (TLS %t)", server.CCID, address, !tls.Disabled)
	return server.Start()
}

// tlsProperties reads the optional TLS key pair and client CA named by the environment.
func tlsProperties() (shim.TLSProperties, error) {
	certFile, keyFile := os.Getenv("CHAINCODE_TLS_CERT_FILE"), os.Getenv("CHAINCODE_TLS_KEY_FILE")
	if certFile == "" || keyFile == "" {
		return shim.TLSProperties{Disabled: true}, nil
	}
	props := shim.TLSProperties{}
	var err error
	if props.Cert, err = os.ReadFile(certFile); err != nil {
		return props, err
	}
	if props.Key, err = os.ReadFile(keyFile); err != nil {
		return props, err
	}
	if caFile := os.Getenv("CHAINCODE_TLS_CLIENT_CA_FILE"); caFile != "" {
		if props.ClientCACerts, err = os.ReadFile(caFile); err != nil {
			return props, err
		}
	}
	return props, nil
}
