"""Fine-tuning: training data as Ray Data streams and the Ray Train loop and driver."""
