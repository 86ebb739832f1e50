"""2.x repository stand-in service package, laid out like cloudforet-io/repository 2.x
(conf, error, model, connector, manager, service, info, interface.grpc) so that the
official spaceone-core 2.0.144 locator/transaction/handler machinery drives it."""
