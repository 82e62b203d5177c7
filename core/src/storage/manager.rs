pub struct LogManager;
