public enum FedSimCLIPlaceholder {}
