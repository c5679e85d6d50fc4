# C declarations of the kernel device interfaces kiln.hw uses.  Constants and layouts come from
# the target's kernel headers at compile time (linux-libc-dev / the cross sysroot).
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t

cdef extern from "<fcntl.h>" nogil:
    int open(const char *path, int flags, ...)
    enum:
        O_RDWR
        O_RDONLY
        O_WRONLY
        O_CLOEXEC
        O_NOCTTY
        O_NONBLOCK

cdef extern from "<unistd.h>" nogil:
    ssize_t read(int fd, void *buf, size_t n)
    ssize_t write(int fd, const void *buf, size_t n)
    int close(int fd)

cdef extern from "<sys/ioctl.h>" nogil:
    int ioctl(int fd, unsigned long request, ...)

# ---- GPIO character device, uAPI v2 (linux/gpio.h) -------------------------------------------
cdef extern from "<linux/gpio.h>" nogil:
    enum:
        GPIO_MAX_NAME_SIZE
        GPIO_V2_LINES_MAX
        GPIO_V2_LINE_NUM_ATTRS_MAX
        GPIO_V2_LINE_FLAG_USED
        GPIO_V2_LINE_FLAG_ACTIVE_LOW
        GPIO_V2_LINE_FLAG_INPUT
        GPIO_V2_LINE_FLAG_OUTPUT
        GPIO_V2_LINE_FLAG_EDGE_RISING
        GPIO_V2_LINE_FLAG_EDGE_FALLING
        GPIO_V2_LINE_FLAG_OPEN_DRAIN
        GPIO_V2_LINE_FLAG_OPEN_SOURCE
        GPIO_V2_LINE_FLAG_BIAS_PULL_UP
        GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN
        GPIO_V2_LINE_FLAG_BIAS_DISABLED
        GPIO_V2_LINE_FLAG_EVENT_CLOCK_REALTIME
        GPIO_V2_LINE_ATTR_ID_FLAGS
        GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES
        GPIO_V2_LINE_ATTR_ID_DEBOUNCE
        GPIO_V2_LINE_EVENT_RISING_EDGE
        GPIO_V2_LINE_EVENT_FALLING_EDGE
    unsigned long GPIO_GET_CHIPINFO_IOCTL
    unsigned long GPIO_V2_GET_LINEINFO_IOCTL
    unsigned long GPIO_V2_GET_LINE_IOCTL
    unsigned long GPIO_V2_LINE_SET_CONFIG_IOCTL
    unsigned long GPIO_V2_LINE_GET_VALUES_IOCTL
    unsigned long GPIO_V2_LINE_SET_VALUES_IOCTL

    struct gpiochip_info:
        char name[32]
        char label[32]
        uint32_t lines
    struct gpio_v2_line_attribute:
        uint32_t id
        uint64_t flags
        uint64_t values
        uint32_t debounce_period_us
    struct gpio_v2_line_config_attribute:
        gpio_v2_line_attribute attr
        uint64_t mask
    struct gpio_v2_line_config:
        uint64_t flags
        uint32_t num_attrs
        gpio_v2_line_config_attribute attrs[10]
    struct gpio_v2_line_request:
        uint32_t offsets[64]
        char consumer[32]
        gpio_v2_line_config config
        uint32_t num_lines
        uint32_t event_buffer_size
        int32_t fd
    struct gpio_v2_line_values:
        uint64_t bits
        uint64_t mask
    struct gpio_v2_line_info:
        char name[32]
        char consumer[32]
        uint32_t offset
        uint32_t num_attrs
        uint64_t flags
        gpio_v2_line_attribute attrs[10]
    struct gpio_v2_line_event:
        uint64_t timestamp_ns
        uint32_t id
        uint32_t offset
        uint32_t seqno
        uint32_t line_seqno

# ---- I2C (linux/i2c.h, linux/i2c-dev.h) -------------------------------------------------------
cdef extern from "<linux/i2c.h>" nogil:
    struct i2c_msg:
        uint16_t addr
        uint16_t flags
        uint16_t len
        uint8_t *buf
    enum:
        I2C_M_RD
        I2C_M_TEN
        I2C_M_NOSTART
        I2C_FUNC_I2C
        I2C_FUNC_10BIT_ADDR
        I2C_FUNC_NOSTART
        I2C_FUNC_SMBUS_QUICK
        I2C_FUNC_SMBUS_READ_BYTE
        I2C_FUNC_SMBUS_WRITE_BYTE
        I2C_FUNC_SMBUS_READ_BYTE_DATA
        I2C_FUNC_SMBUS_WRITE_BYTE_DATA
        I2C_FUNC_SMBUS_READ_WORD_DATA
        I2C_FUNC_SMBUS_WRITE_WORD_DATA
        I2C_FUNC_SMBUS_READ_I2C_BLOCK
        I2C_FUNC_SMBUS_WRITE_I2C_BLOCK
        I2C_SMBUS_BLOCK_MAX
        I2C_SMBUS_READ
        I2C_SMBUS_WRITE
        I2C_SMBUS_QUICK
        I2C_SMBUS_BYTE
        I2C_SMBUS_BYTE_DATA
        I2C_SMBUS_WORD_DATA
        I2C_SMBUS_I2C_BLOCK_DATA
    union i2c_smbus_data:
        uint8_t byte
        uint16_t word
        uint8_t block[34]

cdef extern from "<linux/i2c-dev.h>" nogil:
    enum:
        I2C_RETRIES
        I2C_TIMEOUT
        I2C_SLAVE
        I2C_TENBIT
        I2C_FUNCS
        I2C_RDWR
        I2C_SMBUS
        I2C_RDWR_IOCTL_MAX_MSGS
    struct i2c_rdwr_ioctl_data:
        i2c_msg *msgs
        uint32_t nmsgs
    struct i2c_smbus_ioctl_data:
        uint8_t read_write
        uint8_t command
        uint32_t size
        i2c_smbus_data *data

# ---- SPI (linux/spi/spidev.h) -----------------------------------------------------------------
cdef extern from "<linux/spi/spidev.h>" nogil:
    enum:
        SPI_CPHA
        SPI_CPOL
        SPI_CS_HIGH
        SPI_LSB_FIRST
        SPI_NO_CS
        SPI_3WIRE
        SPI_LOOP
    unsigned long SPI_IOC_RD_MODE32
    unsigned long SPI_IOC_WR_MODE32
    unsigned long SPI_IOC_RD_LSB_FIRST
    unsigned long SPI_IOC_WR_LSB_FIRST
    unsigned long SPI_IOC_RD_BITS_PER_WORD
    unsigned long SPI_IOC_WR_BITS_PER_WORD
    unsigned long SPI_IOC_RD_MAX_SPEED_HZ
    unsigned long SPI_IOC_WR_MAX_SPEED_HZ
    unsigned long SPI_IOC_MESSAGE(int n)
    struct spi_ioc_transfer:
        uint64_t tx_buf
        uint64_t rx_buf
        uint32_t len
        uint32_t speed_hz
        uint16_t delay_usecs
        uint8_t bits_per_word
        uint8_t cs_change
        uint8_t tx_nbits
        uint8_t rx_nbits
        uint8_t word_delay_usecs

# ---- Watchdog (linux/watchdog.h) --------------------------------------------------------------
cdef extern from "<linux/watchdog.h>" nogil:
    struct watchdog_info:
        uint32_t options
        uint32_t firmware_version
        uint8_t identity[32]
    unsigned long WDIOC_GETSUPPORT
    unsigned long WDIOC_KEEPALIVE
    unsigned long WDIOC_SETTIMEOUT
    unsigned long WDIOC_GETTIMEOUT
    unsigned long WDIOC_GETTIMELEFT
    unsigned long WDIOC_SETOPTIONS
    enum:
        WDIOF_SETTIMEOUT
        WDIOF_MAGICCLOSE
        WDIOF_KEEPALIVEPING
        WDIOS_DISABLECARD

# ---- Serial ports: termios2 (asm/termbits.h; never <termios.h>, whose struct differs) --------
cdef extern from "<asm/termbits.h>" nogil:
    ctypedef unsigned int tcflag_t
    ctypedef unsigned char cc_t
    ctypedef unsigned int speed_t
    struct termios2:
        tcflag_t c_iflag
        tcflag_t c_oflag
        tcflag_t c_cflag
        tcflag_t c_lflag
        cc_t c_line
        cc_t c_cc[19]
        speed_t c_ispeed
        speed_t c_ospeed
    enum:
        VMIN
        VTIME
        CBAUD
        BOTHER
        CSIZE
        CS5
        CS6
        CS7
        CS8
        CSTOPB
        CREAD
        PARENB
        PARODD
        CMSPAR
        HUPCL
        CLOCAL
        CRTSCTS
        IGNBRK
        BRKINT
        PARMRK
        ISTRIP
        INLCR
        IGNCR
        ICRNL
        IXON
        IXOFF
        IXANY
        INPCK
        IGNPAR
        OPOST
        ECHO
        ECHONL
        ICANON
        ISIG
        IEXTEN
        TCIFLUSH
        TCOFLUSH
        TCIOFLUSH
    int IBSHIFT

cdef extern from "<asm/ioctls.h>" nogil:
    unsigned long TCGETS2
    unsigned long TCSETS2
    unsigned long TCFLSH
    unsigned long TCSBRKP
    unsigned long TIOCINQ
    unsigned long TIOCOUTQ
    unsigned long TIOCEXCL
    unsigned long TIOCSBRK
    unsigned long TIOCCBRK
